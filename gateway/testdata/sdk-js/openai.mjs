// The official openai SDK, unchanged but for its base URL and key (STREAMGATE_URL,
// STREAMGATE_KEY) and no retries of its own, so that an upstream error is seen once. Each
// argument names a scenario to run, in order; it prints what the SDK returned or raised as one
// JSON object keyed by scenario, which gateway's sdk_npm_test.go compares exactly. The scenarios
// that expect a failure ask for STREAMGATE_RATE_LIMITED_MODEL and STREAMGATE_FAILING_MODEL, the
// models the simulator fails on purpose (the fake upstream fails whatever is queued).
import OpenAI, { APIError } from 'openai';

const client = new OpenAI({ apiKey: process.env.STREAMGATE_KEY, baseURL: process.env.STREAMGATE_URL, maxRetries: 0 });
const model = 'gemini-2.5-flash';
const chat = { model, messages: [{ role: 'user', content: 'Say hello' }] };
const rateLimited = { ...chat, model: process.env.STREAMGATE_RATE_LIMITED_MODEL ?? model };
const failingChat = { ...chat, model: process.env.STREAMGATE_FAILING_MODEL ?? model };

// raised describes an error the SDK raised.
function raised(err) {
  if (!(err instanceof APIError)) {
    return { class: err.constructor.name, message: err.message };
  }
  return {
    class: err.constructor.name,
    status: err.status ?? null,
    type: err.type ?? null,
    code: err.code ?? null,
    param: err.param ?? null,
    message: err.message,
    retryAfter: err.headers?.get('retry-after') ?? null,
  };
}

// failing runs a call that must raise.
async function failing(call) {
  try {
    return { returned: await call() };
  } catch (err) {
    return { raised: raised(err) };
  }
}

const scenarios = {
  async chat() {
    const c = await client.chat.completions.create(chat);
    return { id: c.id, model: c.model, choices: c.choices, usage: c.usage };
  },
  async embeddings() {
    const e = await client.embeddings.create({ model: 'gemini-embedding-001', input: 'first text', dimensions: 8 });
    return { data: e.data, usage: e.usage };
  },
  async models() {
    const ids = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
    }
    return ids;
  },
  // error expects a chat completion refused.
  async error() {
    return failing(() => client.chat.completions.create(rateLimited));
  },
  // stream assembles a streamed answer; usage comes in the last chunk, without choices.
  async stream() {
    const { data, response } = await client.chat.completions
      .create({ ...chat, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const out = { streamId: response.headers.get('x-stream-id'), deltas: [], finishReasons: [], usage: null, chunks: 0 };
    for await (const chunk of data) {
      out.chunks++;
      for (const choice of chunk.choices) {
        if (choice.delta.content) {
          out.deltas.push(choice.delta.content);
        }
        if (choice.finish_reason) {
          out.finishReasons.push(choice.finish_reason);
        }
      }
      out.usage = chunk.usage ?? out.usage;
    }
    out.text = out.deltas.join('');
    return out;
  },
  // streamRefused expects a stream refused before its first chunk.
  streamRefused: () => failingStream(rateLimited),
  // streamFailure expects a stream that fails after its first chunk.
  streamFailure: () => failingStream(failingChat),
};

// failingStream reads a stream of params that must raise, and reports the deltas it read before.
async function failingStream(params) {
  const deltas = [];
  const result = await failing(async () => {
    for await (const chunk of await client.chat.completions.create({ ...params, stream: true })) {
      deltas.push(...chunk.choices.map((c) => c.delta.content ?? ''));
    }
    return 'ended cleanly';
  });
  return { deltas, ...result };
}

const out = {};
for (const name of process.argv.slice(2)) {
  if (!Object.hasOwn(scenarios, name)) {
    throw new Error(`no scenario ${name}`);
  }
  out[name] = await scenarios[name]();
}
console.log(JSON.stringify(out));
