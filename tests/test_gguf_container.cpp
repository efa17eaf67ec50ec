// The GGUF v3 container: round trips through GgufWriter/GgufFile, the byte layout the spec
// mandates (parsed by hand, independently of the reader), and a clear error for each kind of bad file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "format/gguf.h"
#include "message_checks.h"
#include "test_util.h"
#include "util/error.h"

namespace mmfree {
namespace {

using test::has_all;

using test::read_file;

void dump(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
T at(const std::string& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

// The message GgufFile(path) throws, or "" when it opens.
std::string open_error(const std::string& path) {
  try {
    GgufFile f(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Builds GGUF bytes field by field, as the spec lays them out, for files the writer would refuse.
struct Bytes {
  std::string b;
  template <class T>
  Bytes& put(T v) {
    char c[sizeof(T)];
    std::memcpy(c, &v, sizeof(T));
    b.append(c, sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  Bytes& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b += "GGUF";
    return put(version).put(n_tensors).put(n_kv);
  }
  Bytes& tensor_info(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (auto d : dims) put(d);
    return put(type).put(offset);
  }
  Bytes& pad_to(size_t alignment) {
    b.resize((b.size() + alignment - 1) / alignment * alignment, '\0');
    return *this;
  }
};

GgufValue::Array u32s(std::initializer_list<uint32_t> v) {
  GgufValue::Array a;
  for (auto x : v) a.push_back(GgufValue::u32(x));
  return a;
}

// A writer holding one value of every type and three tensors of odd sizes.
GgufWriter writer_with_everything(std::vector<std::vector<uint8_t>>& tensor_bytes) {
  using T = GgufValueType;
  GgufWriter w;
  w.add_metadata("general.architecture", GgufValue::of_string("test"));
  w.add_metadata("t.u8", GgufValue::of_uint(T::UINT8, 250));
  w.add_metadata("t.i8", GgufValue::of_int(T::INT8, -100));
  w.add_metadata("t.u16", GgufValue::of_uint(T::UINT16, 65000));
  w.add_metadata("t.i16", GgufValue::of_int(T::INT16, -30000));
  w.add_metadata("t.u32", GgufValue::u32(4000000000u));
  w.add_metadata("t.i32", GgufValue::of_int(T::INT32, -2000000000));
  w.add_metadata("t.f32", GgufValue::f32(0.1f));
  w.add_metadata("t.bool", GgufValue::of_bool(true));
  w.add_metadata("t.string", GgufValue::of_string("h\xc3\xa9llo"));
  w.add_metadata("t.u64", GgufValue::of_uint(T::UINT64, 18000000000000000000ull));
  w.add_metadata("t.i64", GgufValue::of_int(T::INT64, -9000000000000000000ll));
  w.add_metadata("t.f64", GgufValue::of_float(T::FLOAT64, 1e-300));
  w.add_metadata("t.array_u32", GgufValue::of_array(T::UINT32, u32s({1, 2, 3})));
  w.add_metadata("t.array_str", GgufValue::of_array(T::STRING, {GgufValue::of_string("a"), GgufValue::of_string("")}));
  w.add_metadata("t.nested", GgufValue::of_array(T::ARRAY, {GgufValue::of_array(T::UINT32, u32s({7})),
                                                            GgufValue::of_array(T::UINT32, u32s({}))}));
  w.add_metadata("t.empty", GgufValue::of_array(T::FLOAT64, {}));
  tensor_bytes = {std::vector<uint8_t>(3 * 4), std::vector<uint8_t>(2 * 5), std::vector<uint8_t>(66)};
  for (auto& t : tensor_bytes)
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<uint8_t>(i * 7 + t.size());
  const std::vector<std::pair<GgmlType, std::vector<uint64_t>>> specs = {
      {GgmlType::F32, {3}}, {GgmlType::I8, {5, 2}}, {GgmlType::TQ2_0, {256}}};
  const char* names[] = {"a", "b.weight", "c"};
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto* data = &tensor_bytes[i];
    w.add_tensor(names[i], specs[i].first, specs[i].second, [data](std::ostream& out) {
      out.write(reinterpret_cast<const char*>(data->data()), static_cast<std::streamsize>(data->size()));
    });
  }
  return w;
}

TEST(GgufContainer, RoundTripsEveryValueTypeAndTensor) {
  test::TempDir dir;
  std::vector<std::vector<uint8_t>> bytes;
  GgufWriter w = writer_with_everything(bytes);
  w.write(dir.file("x.gguf"));

  GgufFile f(dir.file("x.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  ASSERT_EQ(f.metadata().size(), 17u);
  EXPECT_EQ(f.metadata()[0].first, "general.architecture");
  EXPECT_EQ(f.get_string("general.architecture"), "test");
  EXPECT_EQ(f.get("t.u8"), GgufValue::of_uint(GgufValueType::UINT8, 250));
  EXPECT_EQ(f.get_int("t.i8"), -100);
  EXPECT_EQ(f.get_int("t.u16"), 65000);
  EXPECT_EQ(f.get_int("t.i16"), -30000);
  EXPECT_EQ(f.get_int("t.u32"), 4000000000ll);
  EXPECT_EQ(f.get_int("t.i32"), -2000000000);
  EXPECT_EQ(f.get_float("t.f32"), static_cast<double>(0.1f));
  EXPECT_TRUE(f.get_bool("t.bool"));
  EXPECT_EQ(f.get_string("t.string"), "h\xc3\xa9llo");
  EXPECT_EQ(f.get("t.u64").as_uint(), 18000000000000000000ull);
  EXPECT_EQ(f.get_int("t.i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_float("t.f64"), 1e-300);
  EXPECT_EQ(f.get("t.array_u32"), GgufValue::of_array(GgufValueType::UINT32, u32s({1, 2, 3})));
  EXPECT_EQ(f.get("t.array_str").as_array().at(0).as_string(), "a");
  const auto& nested = f.get("t.nested");
  EXPECT_EQ(nested.element_type(), GgufValueType::ARRAY);
  EXPECT_EQ(nested.as_array().at(0).as_array().at(0).as_uint(), 7u);
  EXPECT_TRUE(nested.as_array().at(1).as_array().empty());
  EXPECT_EQ(f.get("t.empty").element_type(), GgufValueType::FLOAT64);

  ASSERT_EQ(f.tensors().size(), 3u);
  const GgufTensorInfo& b = f.tensor("b.weight");
  EXPECT_EQ(b.dims, (std::vector<uint64_t>{5, 2}));
  EXPECT_EQ(b.shape(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(b.type(), GgmlType::I8);
  for (size_t i = 0; i < 3; ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    ASSERT_EQ(t.nbytes, bytes[i].size()) << t.name;
    EXPECT_EQ(std::memcmp(t.data, bytes[i].data(), t.nbytes), 0) << t.name;
  }
}

TEST(GgufContainer, HeaderFieldsSitAtTheOffsetsTheSpecMandates) {
  test::TempDir dir;
  GgufWriter w;
  w.add_metadata("general.name", GgufValue::of_string("abc"));
  const float data[6] = {1, 2, 3, 4, 5, 6};
  w.add_tensor("w", GgmlType::F32, {3, 2}, [&](std::ostream& out) { out.write(reinterpret_cast<const char*>(data), 24); });
  w.write(dir.file("h.gguf"));
  const std::string b = read_file(dir.file("h.gguf"));

  EXPECT_EQ(b.substr(0, 4), "GGUF");                   // magic, bytes 0..3
  EXPECT_EQ(at<uint32_t>(b, 4), 3u);                   // version
  EXPECT_EQ(at<uint64_t>(b, 8), 1u);                   // tensor count
  EXPECT_EQ(at<uint64_t>(b, 16), 1u);                  // metadata count
  EXPECT_EQ(at<uint64_t>(b, 24), 12u);                 // key length
  EXPECT_EQ(b.substr(32, 12), "general.name");         // key
  EXPECT_EQ(at<uint32_t>(b, 44), 8u);                  // value type: string
  EXPECT_EQ(at<uint64_t>(b, 48), 3u);                  // string length
  EXPECT_EQ(b.substr(56, 3), "abc");
  EXPECT_EQ(at<uint64_t>(b, 59), 1u);                  // tensor name length
  EXPECT_EQ(b.substr(67, 1), "w");
  EXPECT_EQ(at<uint32_t>(b, 68), 2u);                  // n_dims
  EXPECT_EQ(at<uint64_t>(b, 72), 3u);                  // dims[0]: the innermost (columns)
  EXPECT_EQ(at<uint64_t>(b, 80), 2u);                  // dims[1]: rows
  EXPECT_EQ(at<uint32_t>(b, 88), 0u);                  // ggml type F32
  EXPECT_EQ(at<uint64_t>(b, 92), 0u);                  // offset within the data section
  // The tensor infos end at byte 100; the data section starts at the next multiple of 32, 128,
  // and the file ends padded to a multiple of 32 after the 24 data bytes.
  ASSERT_EQ(b.size(), 160u);
  for (size_t i = 100; i < 128; ++i) EXPECT_EQ(b[i], '\0');
  for (int i = 0; i < 6; ++i) EXPECT_EQ(at<float>(b, 128 + 4 * i), data[i]);
  EXPECT_EQ(GgufFile(dir.file("h.gguf")).data_offset(), 128u);
}

TEST(GgufContainer, HonoursACustomAlignment) {
  test::TempDir dir;
  GgufWriter w;
  w.add_metadata("general.alignment", GgufValue::u32(256));
  const uint8_t one = 1;
  w.add_tensor("a", GgmlType::I8, {1}, [&](std::ostream& out) { out.write(reinterpret_cast<const char*>(&one), 1); });
  w.add_tensor("b", GgmlType::I8, {1}, [&](std::ostream& out) { out.write(reinterpret_cast<const char*>(&one), 1); });
  w.write(dir.file("a.gguf"));
  GgufFile f(dir.file("a.gguf"));
  EXPECT_EQ(f.alignment(), 256u);
  EXPECT_EQ(f.data_offset() % 256, 0u);
  EXPECT_EQ(f.tensor("b").offset, 256u);
  EXPECT_EQ(f.file_size(), f.data_offset() + 512);  // padded after the last tensor too
}

TEST(GgufContainer, WriterRejectsTensorsThatWriteTheWrongSize) {
  test::TempDir dir;
  GgufWriter w;
  w.add_tensor("a", GgmlType::F32, {2}, [](std::ostream& out) { out.write("abc", 3); });
  EXPECT_THROW(w.write(dir.file("bad.gguf")), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.gguf")));  // atomic: nothing left behind
}

TEST(GgufContainer, ForeignFilesAreRejectedByMagic) {
  const std::string st = test::tiny_a() + "/model.safetensors";
  EXPECT_TRUE(has_all(open_error(st), {st, "not a GGUF file", "safetensors"}));
  test::TempDir dir;
  dump(dir.file("empty"), "");
  EXPECT_TRUE(has_all(open_error(dir.file("empty")), {"not a GGUF file", "too short"}));
  dump(dir.file("text"), "hello world, not a model");
  EXPECT_TRUE(has_all(open_error(dir.file("text")), {"not a GGUF file: it starts with bytes 68 65 6c 6c"}));
}

TEST(GgufContainer, UnsupportedVersionsAreRejected) {
  test::TempDir dir;
  dump(dir.file("v2"), Bytes().header(2, 0, 0).b);
  EXPECT_TRUE(has_all(open_error(dir.file("v2")), {dir.file("v2"), "unsupported GGUF version 2"}));
  dump(dir.file("v4"), Bytes().header(4, 0, 0).b);
  EXPECT_TRUE(has_all(open_error(dir.file("v4")), {"unsupported GGUF version 4"}));
  dump(dir.file("be"), Bytes().header(0x03000000u, 0, 0).b);
  EXPECT_TRUE(has_all(open_error(dir.file("be")), {"big-endian"}));
  dump(dir.file("ok"), Bytes().header(3, 0, 0).b);
  EXPECT_EQ(open_error(dir.file("ok")), "");
}

TEST(GgufContainer, EveryTruncationIsReportedNeverACrash) {
  test::TempDir dir;
  std::vector<std::vector<uint8_t>> bytes;
  writer_with_everything(bytes).write(dir.file("full.gguf"));
  const std::string full = read_file(dir.file("full.gguf"));
  GgufFile f(dir.file("full.gguf"));
  const uint64_t data_end = f.data_offset() + f.tensor("c").offset + f.tensor("c").nbytes;
  // Every cut, shrinking one copy in place; cuts inside the trailing padding keep every byte.
  dump(dir.file("cut.gguf"), full);
  for (size_t n = data_end; n-- > 4;) {
    std::filesystem::resize_file(dir.file("cut.gguf"), n);
    EXPECT_TRUE(has_all(open_error(dir.file("cut.gguf")), {dir.file("cut.gguf"), "truncated"})) << "cut at " << n;
  }
  EXPECT_EQ(open_error(dir.file("full.gguf")), "");
}

TEST(GgufContainer, TensorOffsetsOutOfRangeNameTheTensor) {
  test::TempDir dir;
  Bytes b;
  b.header(3, 1, 0).tensor_info("blk.w", {4}, 0, 1 << 20).pad_to(32);
  b.b.append(16, '\0');
  dump(dir.file("f"), b.b);
  EXPECT_TRUE(has_all(open_error(dir.file("f")), {"tensor 'blk.w'", "bad offset"}));
}

TEST(GgufContainer, UnknownTypeIdsNameTheTensor) {
  test::TempDir dir;
  dump(dir.file("f"), Bytes().header(3, 1, 0).tensor_info("w", {4}, 77, 0).pad_to(32).b + std::string(32, '\0'));
  EXPECT_TRUE(has_all(open_error(dir.file("f")), {"tensor 'w'", "unknown ggml type id 77"}));
  dump(dir.file("g"), Bytes().header(3, 1, 0).tensor_info("w", {4}, 4, 0).pad_to(32).b + std::string(32, '\0'));
  EXPECT_TRUE(has_all(open_error(dir.file("g")), {"unknown ggml type id 4"}));  // Q4_2, removed from ggml
}

TEST(GgufContainer, StructuralErrorsAreNamed) {
  test::TempDir dir;
  auto expect_error = [&](const std::string& bytes, const std::string& what) {
    dump(dir.file("f"), bytes);
    EXPECT_TRUE(has_all(open_error(dir.file("f")), {dir.file("f"), what}));
  };
  const std::string data(64, '\0');
  expect_error(Bytes().header(3, 1, 0).tensor_info("w", {4}, 0, 8).pad_to(32).b + data,
               "tensor 'w': data offset 8 is not a multiple of the alignment 32");
  expect_error(Bytes().header(3, 1, 0).tensor_info("w", {100}, 35, 0).pad_to(32).b + data,
               "tensor 'w': rows of 100 elements are not a whole number of tq2_0 blocks of 256");
  expect_error(Bytes().header(3, 1, 0).tensor_info("w", {1, 1, 1, 1, 1}, 0, 0).pad_to(32).b + data,
               "tensor 'w': has 5 dimensions");
  expect_error(Bytes().header(3, 2, 0).tensor_info("w", {4}, 0, 0).tensor_info("w", {4}, 0, 32).pad_to(32).b + data,
               "tensor 'w': appears twice");
  expect_error(Bytes().header(3, 2, 0).tensor_info("a", {16}, 0, 0).tensor_info("b", {4}, 0, 32).pad_to(32).b + data,
               "tensors 'a' and 'b' overlap");
  expect_error(Bytes().header(3, 0, 1).str("k.b").put<uint32_t>(7).put<uint8_t>(2).b, "metadata key 'k.b': bool value is 2");
  expect_error(Bytes().header(3, 0, 1).str("k.t").put<uint32_t>(13).put<uint64_t>(0).b, "metadata key 'k.t': unknown value type 13");
  expect_error(Bytes().header(3, 0, 1).str("k.a").put<uint32_t>(9).put<uint32_t>(42).put<uint64_t>(0).b,
               "metadata key 'k.a': array has unknown element type 42");
  expect_error(Bytes().header(3, 0, 1).str("k.a").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 40).b,
               "metadata key 'k.a': array of 1099511627776 uint32 values does not fit");
  expect_error(Bytes().header(3, 0, 2).str("k").put<uint32_t>(0).put<uint8_t>(1).str("k").put<uint32_t>(0).put<uint8_t>(1).b,
               "metadata key 'k': appears twice");
  expect_error(Bytes().header(3, 0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(48).b,
               "'general.alignment' is 48, must be a power of two");
  expect_error(Bytes().header(3, 0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(64).b,
               "'general.alignment' has type uint64, must be uint32");
  expect_error(Bytes().header(3, 1ull << 50, 0).b, "announces 1125899906842624 tensors");
}

TEST(GgufContainer, TypedGettersNameTheKey) {
  test::TempDir dir;
  GgufWriter w;
  w.add_metadata("a.s", GgufValue::of_string("x"));
  w.write(dir.file("k.gguf"));
  GgufFile f(dir.file("k.gguf"));
  try {
    f.get_int("a.s");
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(has_all(e.what(), {dir.file("k.gguf"), "'a.s' has type string, expected an integer"}));
  }
  try {
    f.get_bool("a.missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(has_all(e.what(), {"missing metadata key 'a.missing'"}));
  }
}

}  // namespace
}  // namespace mmfree
