// Drive a running codexd with the official Anthropic TypeScript SDK.
//
// Run by tests/ts_sdk.rs against codexd + the mock Codex upstream:
//   node tests/sdk/anthropic_sdk_check.mjs --base-url http://127.0.0.1:PORT [--model claude-haiku-4-5-20251001]
// with NODE_PATH pointing at the node_modules that holds @anthropic-ai/sdk.
// Each check prints PASS/FAIL; the last line is "ts-sdk: N passed, N failed".

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const sdk = require("@anthropic-ai/sdk");
const Anthropic = sdk.default ?? sdk.Anthropic ?? sdk;

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const MODEL = arg("--model", "claude-sonnet-4-5-20250929");
const client = new Anthropic({ baseURL: arg("--base-url"), apiKey: "unused-local-key", maxRetries: 0 });

const WEATHER_TOOL = {
  name: "get_weather",
  description: "Current weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const textOf = (message) => {
  const texts = message.content.filter((block) => block.type === "text");
  assert(texts.length === 1, `one text block expected: ${JSON.stringify(message.content)}`);
  return texts[0].text;
};

async function checkCreate() {
  const message = await client.messages.create({
    model: MODEL,
    max_tokens: 256,
    system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: "ping" }],
  });
  assert(message.type === "message" && message.role === "assistant", JSON.stringify(message));
  assert(message.model === MODEL, `model not echoed: ${message.model}`);
  assert(message.stop_reason === "end_turn", message.stop_reason);
  assert(textOf(message).includes("You said: ping"), textOf(message));
  assert(message.usage.output_tokens > 0, JSON.stringify(message.usage));
}

async function checkStreamHelpers() {
  const pieces = [];
  const stream = client.messages
    .stream({ model: MODEL, max_tokens: 256, messages: [{ role: "user", content: "stream please" }] })
    .on("text", (text) => pieces.push(text));
  const final = await stream.finalMessage();
  assert(pieces.length > 1, `several deltas expected, got ${JSON.stringify(pieces)}`);
  assert(pieces.join("") === textOf(final), "the deltas add up to the final text");
  assert(final.stop_reason === "end_turn", final.stop_reason);
}

async function checkToolRoundTrip() {
  const messages = [{ role: "user", content: "What is the weather in Paris? Use the tool." }];
  const first = await client.messages.stream({ model: MODEL, max_tokens: 512, tools: [WEATHER_TOOL], messages }).finalMessage();
  assert(first.stop_reason === "tool_use", first.stop_reason);
  const uses = first.content.filter((block) => block.type === "tool_use");
  assert(uses.length === 1 && uses[0].name === "get_weather", JSON.stringify(first.content));
  assert(JSON.stringify(uses[0].input) === JSON.stringify({ city: "Paris" }), JSON.stringify(uses[0].input));
  messages.push({ role: "assistant", content: first.content });
  messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: uses[0].id, content: "18C and sunny" }] });
  const second = await client.messages.create({ model: MODEL, max_tokens: 512, tools: [WEATHER_TOOL], messages });
  assert(second.stop_reason === "end_turn", second.stop_reason);
  assert(textOf(second).includes("18C and sunny"), textOf(second));
}

async function checkThinking() {
  const request = {
    model: MODEL,
    max_tokens: 16000,
    thinking: { type: "enabled", budget_tokens: 10000 },
    messages: [{ role: "user", content: "think first" }],
  };
  const kinds = new Set();
  const stream = client.messages.stream(request);
  for await (const event of stream) {
    if (event.type === "content_block_delta") kinds.add(event.delta.type);
  }
  const final = await stream.finalMessage();
  assert(kinds.has("thinking_delta") && kinds.has("signature_delta"), [...kinds].join(","));
  const [thinking] = final.content;
  assert(thinking.type === "thinking" && thinking.signature.startsWith("codexd.v1."), JSON.stringify(thinking));
  const again = await client.messages.create({
    ...request,
    messages: [...request.messages, { role: "assistant", content: final.content }, { role: "user", content: "again" }],
  });
  assert(again.content.at(-1).type === "text", JSON.stringify(again.content));
}

async function checkTypedErrors() {
  try {
    await client.messages.create({ model: MODEL, max_tokens: 10, messages: "not a list" });
  } catch (error) {
    assert(error instanceof Anthropic.BadRequestError, `a BadRequestError expected, got ${error?.constructor?.name}`);
    assert(error.status === 400, String(error.status));
    assert(error.error?.type === "error" && error.error?.error?.type === "invalid_request_error", JSON.stringify(error.error));
    assert(String(error.error.error.message).includes("messages"), error.error.error.message);
    return;
  }
  throw new Error("expected a 400");
}

async function checkModels() {
  const page = await client.models.list();
  const ids = page.data.map((model) => model.id);
  assert(ids.includes(MODEL), ids.join(","));
  const one = await client.models.retrieve(MODEL);
  assert(one.id === MODEL && one.display_name.includes(" → GPT-"), JSON.stringify(one));
}

const checks = [
  ["create", checkCreate],
  ["stream helpers", checkStreamHelpers],
  ["tool round trip", checkToolRoundTrip],
  ["thinking with signatures", checkThinking],
  ["typed errors", checkTypedErrors],
  ["models", checkModels],
];
let failures = 0;
for (const [name, check] of checks) {
  try {
    await check();
    console.log(`PASS ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}: ${error?.stack ?? error}`);
  }
}
console.log(`ts-sdk: ${checks.length - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
