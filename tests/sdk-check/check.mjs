// Keeps the fake provider (tests/src/fake_provider.rs) honest: the official
// `openai` and `@anthropic-ai/sdk` clients (pinned in the root package.json)
// stream, fetch and list models from it, then meet scripted faults. Prints
// one JSON summary on stdout; exits 1 on any unexpected error.
//
//   node tests/sdk-check/check.mjs http://127.0.0.1:PORT
//
// Run from the repository root after `npm ci` there. The Rust test
// `sdk::the_official_clients_parse_the_streams` in
// tests/tests/fake_provider.rs runs it and checks the summary.

import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const base = process.argv[2];
if (!base) {
  console.error('usage: node tests/sdk-check/check.mjs BASE_URL');
  process.exit(2);
}

// Must match the constants of the Rust test.
const PROMPT = 'Hello from the official clients';
const TRICKLE_PROMPT = 'Grüße, 世界: trickled';
const SYSTEM = 'Be brief.';
const MODEL = 'fake-model-1';

const options = { apiKey: 'test', maxRetries: 0, timeout: 10_000 };
const openai = new OpenAI({ ...options, baseURL: `${base}/v1` });
const anthropic = new Anthropic({ ...options, baseURL: base });

const chatParams = (prompt) => ({
  model: MODEL,
  messages: [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: prompt },
  ],
});
const messageParams = (prompt) => ({
  model: MODEL,
  max_tokens: 256,
  system: SYSTEM,
  messages: [{ role: 'user', content: prompt }],
});

const pick = (object, keys) => Object.fromEntries(keys.map((k) => [k, object?.[k] ?? null]));
const OPENAI_USAGE = ['prompt_tokens', 'completion_tokens', 'total_tokens'];
const ANTHROPIC_USAGE = ['input_tokens', 'output_tokens'];

/** Appends faults to a route's queue through the control endpoint. */
async function script(route, faults) {
  const response = await fetch(`${base}/__fake/script`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ route, faults }),
  });
  if (!response.ok) throw new Error(`scripting ${route} failed: ${response.status}`);
}

/** The raw stream, as chunks: text, last finish_reason, usage. */
async function openaiStream(prompt) {
  const stream = await openai.chat.completions.create({
    ...chatParams(prompt),
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, finish_reason: finish, usage: pick(usage, OPENAI_USAGE) };
}

function completionSummary(completion) {
  const choice = completion.choices[0];
  return {
    text: choice.message.content,
    finish_reason: choice.finish_reason,
    usage: pick(completion.usage, OPENAI_USAGE),
  };
}

/** The SDK's accumulating helper (ChatCompletionStream). */
async function openaiHelper(prompt) {
  const runner = openai.chat.completions.stream({
    ...chatParams(prompt),
    stream_options: { include_usage: true },
  });
  return completionSummary(await runner.finalChatCompletion());
}

async function openaiModels() {
  const ids = [];
  for await (const model of openai.models.list()) ids.push(model.id);
  return ids;
}

/** The SDK's accumulating helper (MessageStream); its text events must
 *  add up to the final message. */
async function anthropicStream(prompt) {
  const stream = anthropic.messages.stream(messageParams(prompt));
  let streamed = '';
  stream.on('text', (text) => {
    streamed += text;
  });
  const message = await stream.finalMessage();
  const text = message.content.map((block) => block.text ?? '').join('');
  if (text !== streamed) throw new Error(`text events ${JSON.stringify(streamed)} != final ${JSON.stringify(text)}`);
  return { text, stop_reason: message.stop_reason, usage: pick(message.usage, ANTHROPIC_USAGE) };
}

/** The raw event stream; also returns the text pieces. */
async function anthropicRaw(prompt) {
  const stream = await anthropic.messages.create({ ...messageParams(prompt), stream: true });
  const pieces = [];
  let stop = null;
  const usage = {};
  for await (const event of stream) {
    if (event.type === 'message_start') usage.input_tokens = event.message.usage.input_tokens;
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') pieces.push(event.delta.text);
    if (event.type === 'message_delta') {
      stop = event.delta.stop_reason;
      usage.output_tokens = event.usage.output_tokens;
    }
  }
  return { summary: { text: pieces.join(''), stop_reason: stop, usage: pick(usage, ANTHROPIC_USAGE) }, pieces };
}

async function anthropicWhole(prompt) {
  const message = await anthropic.messages.create(messageParams(prompt));
  return {
    text: message.content.map((block) => block.text ?? '').join(''),
    stop_reason: message.stop_reason,
    usage: pick(message.usage, ANTHROPIC_USAGE),
  };
}

async function anthropicModels() {
  const ids = [];
  for await (const model of anthropic.models.list()) ids.push(model.id);
  return ids;
}

/** Runs `run` after scripting `fault` on `route`; how the client ended. */
async function underFault(route, fault, run) {
  await script(route, [fault]);
  try {
    return { ok: await run() };
  } catch (e) {
    console.error(`${route} ${JSON.stringify(fault)}: ${e?.name}: ${e?.message}`);
    return {
      error: e?.constructor?.name ?? String(e),
      status: e?.status ?? null,
      type: e?.type ?? null,
      retry_after: e?.headers?.get?.('retry-after') ?? null,
    };
  }
}

async function main() {
  const raw = await anthropicRaw(PROMPT);
  const summary = {
    openai: {
      stream: await openaiStream(PROMPT),
      helper: await openaiHelper(PROMPT),
      whole: completionSummary(await openai.chat.completions.create(chatParams(PROMPT))),
      models: await openaiModels(),
    },
    anthropic: {
      stream: await anthropicStream(PROMPT),
      raw: raw.summary,
      pieces: raw.pieces,
      whole: await anthropicWhole(PROMPT),
      models: await anthropicModels(),
    },
  };
  // Byte pieces cut across lines, events and UTF-8 characters.
  const trickle = { slow_trickle: { delay_ms: 1, piece_bytes: 3 } };
  await script('chat_completions', [trickle]);
  summary.openai.trickled = (await openaiStream(TRICKLE_PROMPT)).text;
  await script('messages', [trickle]);
  summary.anthropic.trickled = (await anthropicStream(TRICKLE_PROMPT)).text;

  const chat = 'chat_completions';
  const openaiRun = () => openaiStream(PROMPT);
  const anthropicRun = () => anthropicStream(PROMPT);
  summary.faults = {
    openai_429: await underFault(chat, { too_many_requests: { retry_after_s: 7 } }, openaiRun),
    openai_503: await underFault(chat, { status: 503 }, openaiRun),
    openai_reset: await underFault(chat, 'reset', openaiRun),
    openai_malformed: await underFault(chat, { malformed_chunk: { at: 1 } }, openaiRun),
    openai_drop: await underFault(chat, { drop_mid_stream: { after_chunks: 2 } }, openaiRun),
    openai_error_mid_stream: await underFault(chat, { error_mid_stream: { after_chunks: 1 } }, openaiRun),
    anthropic_429: await underFault('messages', { too_many_requests: { retry_after_s: 7 } }, anthropicRun),
    anthropic_529: await underFault('messages', { status: 529 }, anthropicRun),
    anthropic_reset: await underFault('messages', 'reset', anthropicRun),
    anthropic_malformed: await underFault('messages', { malformed_chunk: { at: 1 } }, anthropicRun),
    anthropic_drop: await underFault('messages', { drop_mid_stream: { after_chunks: 2 } }, anthropicRun),
    anthropic_error_mid_stream: await underFault('messages', { error_mid_stream: { after_chunks: 1 } }, anthropicRun),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
