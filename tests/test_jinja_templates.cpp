// The chat templates of well-known models (tests/data/chat_templates.json: ChatML, Qwen2, Llama-2,
// Mixtral, Zephyr, Llama-3, Llama-3.2 with tools, Gemma, Gemma-3, Phi-3) rendered by src/jinja/
// and compared with the text each model's documented prompt format gives. The same expectations
// are checked against Python's jinja2 by tests/jinja/check_with_jinja2.py (ctest
// jinja_fixtures_vs_jinja2), so they do not come from the code under test.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "jinja/json.h"
#include "jinja/template.h"

namespace mmfree::jinja {
namespace {

nlohmann::ordered_json fixture() {
  std::ifstream f(std::string(MMFREE_SOURCE_DIR) + "/tests/data/chat_templates.json");
  return nlohmann::ordered_json::parse(f);
}

TEST(JinjaTemplates, RenderAsTheModelsDocumentThem) {
  const nlohmann::ordered_json f = fixture();
  ASSERT_GE(f["cases"].size(), 20u);
  int rendered = 0, raised = 0;
  for (const auto& c : f["cases"]) {
    const std::string name = c["template"].get<std::string>() + "/" + c["name"].get<std::string>();
    SCOPED_TRACE(name);
    const Template t(f["templates"][c["template"].get<std::string>()].get<std::string>());
    nlohmann::ordered_json vars = c.contains("extra") ? c["extra"] : nlohmann::ordered_json::object();
    vars["messages"] = c["messages"];
    vars["bos_token"] = c["bos_token"];
    vars["eos_token"] = c["eos_token"];
    vars["add_generation_prompt"] = c["add_generation_prompt"];
    if (c.contains("expected")) {
      EXPECT_EQ(t.render(from_json(vars)), c["expected"].get<std::string>());
      ++rendered;
    } else {
      try {
        t.render(from_json(vars));
        ADD_FAILURE() << "expected raise_exception(" << c["raised"] << ")";
      } catch (const RaisedError& e) {
        EXPECT_EQ(std::string(e.what()), c["raised"].get<std::string>());
      }
      ++raised;
    }
  }
  EXPECT_GE(rendered, 15);
  EXPECT_GE(raised, 4);
}

}  // namespace
}  // namespace mmfree::jinja
