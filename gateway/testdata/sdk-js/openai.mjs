// The official openai SDK, unchanged but for its base URL and key (STREAMGATE_URL,
// STREAMGATE_KEY) and no retries of its own, so that an upstream error is seen once. Each
// argument names a scenario to run, in order; it prints what the SDK returned or raised as one
// JSON object keyed by scenario, which gateway's sdk_npm_test.go compares exactly.
import OpenAI, { APIError } from 'openai';

const client = new OpenAI({ apiKey: process.env.STREAMGATE_KEY, baseURL: process.env.STREAMGATE_URL, maxRetries: 0 });
const chat = { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Say hello' }] };

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
    const e = await client.embeddings.create({ model: 'gemini-embedding-001', input: 'first text' });
    return { data: e.data, usage: e.usage };
  },
  async models() {
    const ids = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
    }
    return ids;
  },
  async error() {
    return failing(() => client.chat.completions.create(chat));
  },
};

const out = {};
for (const name of process.argv.slice(2)) {
  if (!Object.hasOwn(scenarios, name)) {
    throw new Error(`no scenario ${name}`);
  }
  out[name] = await scenarios[name]();
}
console.log(JSON.stringify(out));
