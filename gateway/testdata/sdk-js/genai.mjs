// The official @google/genai SDK, unchanged but for its base URL, key and API version
// (STREAMGATE_URL, STREAMGATE_KEY, STREAMGATE_API_VERSION). Each argument names a scenario to
// run, in order; it prints what the SDK returned or raised as one JSON object keyed by scenario,
// which gateway's sdk_npm_test.go compares exactly.
import { GoogleGenAI } from '@google/genai';

const ai = new GoogleGenAI({
  apiKey: process.env.STREAMGATE_KEY,
  httpOptions: { baseUrl: process.env.STREAMGATE_URL, apiVersion: process.env.STREAMGATE_API_VERSION },
});
const model = 'gemini-2.5-flash';

// raised describes an error the SDK raised; an ApiError's message is the error body as JSON, or
// for an error in a stream "got status: STATUS. " and the event's JSON.
function raised(err) {
  return { name: err.name, status: err.status ?? null, message: err.message };
}

const scenarios = {
  // calls are the calls every app makes.
  async calls() {
    const out = {};
    const chunks = [];
    let finishReason;
    for await (const chunk of await ai.models.generateContentStream({ model, contents: 'Say hello' })) {
      chunks.push(chunk.text);
      finishReason = chunk.candidates?.[0]?.finishReason ?? finishReason;
    }
    out.stream = { chunks, text: chunks.join(''), finishReason };

    const gen = await ai.models.generateContent({ model, contents: 'Say hello' });
    out.generate = { text: gen.text, finishReason: gen.candidates[0].finishReason };

    const count = await ai.models.countTokens({ model, contents: 'Say hello to the gateway' });
    out.countTokens = count.totalTokens;

    const embed = { model: 'gemini-embedding-001', config: { outputDimensionality: 8 } };
    const two = await ai.models.embedContent({ ...embed, contents: ['first text', 'second text'] });
    const one = await ai.models.embedContent({ ...embed, contents: 'first text' });
    out.embed = { two: two.embeddings.map((e) => e.values), one: one.embeddings.map((e) => e.values) };

    const pager = await ai.models.list({ config: { pageSize: 3 } });
    const pages = [pager.page.map((m) => m.name)];
    while (pager.hasNextPage()) {
      pages.push((await pager.nextPage()).map((m) => m.name));
    }
    const all = [];
    for await (const m of await ai.models.list()) {
      all.push(m.name);
    }
    out.list = { pages, all };

    const pro = await ai.models.get({ model: 'gemini-2.5-pro' });
    out.get = { name: pro.name, displayName: pro.displayName, inputTokenLimit: pro.inputTokenLimit };
    try {
      await ai.models.get({ model: 'gemini-0' });
      out.getMissing = 'no error';
    } catch (err) {
      out.getMissing = { name: err.name, status: err.status, error: JSON.parse(err.message).error };
    }
    return out;
  },
  // errors expects a stream that fails after its first chunk, then a generateContent refused.
  async errors() {
    const chunks = [];
    let streamError = null;
    try {
      for await (const chunk of await ai.models.generateContentStream({ model, contents: 'Say hello' })) {
        chunks.push(chunk.text);
      }
    } catch (err) {
      streamError = raised(err);
    }
    let generateError = null;
    try {
      await ai.models.generateContent({ model, contents: 'Say hello' });
    } catch (err) {
      generateError = raised(err);
    }
    return { stream: { chunks, raised: streamError }, generate: { raised: generateError } };
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
