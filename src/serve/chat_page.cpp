#include "serve/chat_page.h"

namespace mmfree::serve {

// Kept as one literal so that the binary is the whole server. The page marks its state on
// <body data-state="idle|streaming|done|error"> and each reply's number of streamed chunks on
// data-chunks, so that the headless-browser test (tests/browser/) sees that a reply came in pieces.
std::string_view chat_page_html() {
  static constexpr std::string_view page = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mmfree chat</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f4f5f7; }
  body { margin: 0; display: flex; height: 100vh; }
  main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  header { padding: 10px 16px; background: #1d2330; color: #fff; font-weight: 600; }
  header span { font-weight: 400; opacity: .7; margin-left: 8px; }
  #log { flex: 1; overflow-y: auto; padding: 16px; }
  .msg { max-width: 760px; margin: 0 auto 12px; padding: 10px 14px; border-radius: 10px; white-space: pre-wrap; line-height: 1.45; }
  .user { background: #dbe7ff; }
  .assistant { background: #fff; border: 1px solid #dde1e7; }
  .meta { display: block; font-size: 12px; color: #6b7280; margin-top: 6px; }
  .error { background: #fde2e2; }
  form { display: flex; gap: 8px; padding: 12px 16px; background: #fff; border-top: 1px solid #dde1e7; }
  textarea { flex: 1; resize: vertical; min-height: 44px; font: inherit; padding: 8px; }
  button { font: inherit; padding: 0 18px; border: 0; border-radius: 6px; background: #2f6fed; color: #fff; cursor: pointer; }
  button:disabled { background: #9aa6bd; }
  aside { width: 250px; padding: 12px 16px; background: #fff; border-left: 1px solid #dde1e7; overflow-y: auto; font-size: 14px; }
  aside label { display: block; margin: 10px 0 2px; }
  aside input, aside textarea { width: 100%; box-sizing: border-box; font: inherit; }
</style>
</head>
<body data-state="idle">
<main>
  <header>mmfree chat<span id="model"></span></header>
  <div id="log"></div>
  <form id="form">
    <textarea id="input" placeholder="Message (Enter sends, Shift+Enter is a new line)"></textarea>
    <button id="send" type="submit">Send</button>
    <button id="stop" type="button" disabled>Stop</button>
  </form>
</main>
<aside>
  <strong>Sampling</strong>
  <label>temperature <input id="temperature" type="number" step="0.05" min="0" max="2" value="0.8"></label>
  <label>top_p <input id="top_p" type="number" step="0.05" min="0.01" max="1" value="0.95"></label>
  <label>top_k <input id="top_k" type="number" step="1" min="0" value="40"></label>
  <label>min_p <input id="min_p" type="number" step="0.01" min="0" max="1" value="0.05"></label>
  <label>repeat_penalty <input id="repeat_penalty" type="number" step="0.05" min="0.05" max="10" value="1.1"></label>
  <label>max_tokens <input id="max_tokens" type="number" step="1" min="1" value="200"></label>
  <label>seed (empty: random) <input id="seed" type="number" step="1"></label>
  <label>system prompt <textarea id="system" rows="3"></textarea></label>
  <label>API key <input id="key" type="password" autocomplete="off"></label>
  <p><button id="clear" type="button">New chat</button></p>
</aside>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const log = $("log"), input = $("input");
let history = [], controller = null;

function bubble(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
  return div;
}

function settings() {
  const body = {};
  for (const k of ["temperature", "top_p", "min_p", "repeat_penalty"]) body[k] = parseFloat($(k).value);
  for (const k of ["top_k", "max_tokens"]) body[k] = parseInt($(k).value, 10);
  if ($("seed").value !== "") body.seed = parseInt($("seed").value, 10);
  return body;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("key").value) h.Authorization = "Bearer " + $("key").value;
  return h;
}

async function send(text) {
  if (!text.trim() || controller) return;
  history.push({ role: "user", content: text });
  bubble("user", text);
  const reply = bubble("assistant", "");
  const meta = document.createElement("span");
  meta.className = "meta";
  let content = "", chunks = 0;
  const started = performance.now();
  const messages = ($("system").value ? [{ role: "system", content: $("system").value }] : []).concat(history);
  controller = new AbortController();
  document.body.dataset.state = "streaming";
  $("send").disabled = true;
  $("stop").disabled = false;
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), signal: controller.signal,
      body: JSON.stringify(Object.assign({ messages, stream: true }, settings())),
    });
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || res.statusText);
    }
    const reader = res.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const msg = JSON.parse(data);
        if (msg.error) throw new Error(msg.error.message);
        const delta = msg.choices[0].delta || {};
        if (delta.content) {
          content += delta.content;
          chunks += 1;
          reply.textContent = content;
          reply.dataset.chunks = chunks;
          log.scrollTop = log.scrollHeight;
        }
      }
    }
    const s = (performance.now() - started) / 1000;
    meta.textContent = chunks + " chunks in " + s.toFixed(1) + " s";
    reply.appendChild(meta);
    history.push({ role: "assistant", content });
    document.body.dataset.state = "done";
  } catch (e) {
    reply.classList.add("error");
    reply.textContent = content + (content ? "\n" : "") + (e.name === "AbortError" ? "[stopped]" : "Error: " + e.message);
    if (e.name === "AbortError") history.push({ role: "assistant", content });
    else history.pop();
    document.body.dataset.state = e.name === "AbortError" ? "done" : "error";
  } finally {
    controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
}

$("form").addEventListener("submit", (e) => { e.preventDefault(); const t = input.value; input.value = ""; send(t); });
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("form").requestSubmit(); }
});
$("stop").addEventListener("click", () => controller && controller.abort());
$("clear").addEventListener("click", () => { history = []; log.textContent = ""; });
fetch("/v1/models", { headers: headers() }).then((r) => r.json()).then((m) => {
  if (m.data && m.data[0]) $("model").textContent = m.data[0].id;
}).catch(() => {});
</script>
</body>
</html>
)page";
  return page;
}

}  // namespace mmfree::serve
