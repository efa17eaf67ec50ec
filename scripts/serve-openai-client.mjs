// Checks `mmfree serve` with OpenAI's official JavaScript client (docs/SERVER.md):
//   npm install openai && node scripts/serve-openai-client.mjs http://127.0.0.1:8080/v1 [API_KEY]
// A chat completion, a streamed one, a completion with logprobs, the model list, and a refused
// request surfacing as the client's BadRequestError naming the field. Exits 1 on any mismatch.
import OpenAI from "openai";

const [baseURL, apiKey = "sk-none"] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey });
const fail = (what) => { console.error("FAIL: " + what); process.exit(1); };

const models = await client.models.list();
const model = models.data[0].id;
const reply = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Who is Emma?" }], max_tokens: 16, temperature: 0 });
if (reply.object !== "chat.completion" || typeof reply.choices[0].message.content !== "string") fail("chat reply");
if (reply.usage.completion_tokens !== 16 && reply.choices[0].finish_reason === "length") fail("usage");

let streamed = "", chunks = 0;
const stream = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Who is Emma?" }], max_tokens: 16, temperature: 0, stream: true });
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
  chunks += 1;
}
if (streamed !== reply.choices[0].message.content) fail(`streamed ${JSON.stringify(streamed)} != ${JSON.stringify(reply.choices[0].message.content)}`);

const completion = await client.completions.create({ model, prompt: "It is a truth", max_tokens: 8, logprobs: 2, seed: 7 });
if (completion.choices[0].logprobs.tokens.length !== completion.usage.completion_tokens) fail("logprobs");

try {
  await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], temperature: 9 });
  fail("temperature 9 was accepted");
} catch (e) {
  if (!(e instanceof OpenAI.BadRequestError) || e.param !== "temperature") fail("error shape: " + e);
}
console.log(JSON.stringify({ model, chat: reply.choices[0].message.content, stream_chunks: chunks, ok: true }));
