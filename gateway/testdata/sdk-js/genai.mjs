// The calls every app makes with the official @google/genai SDK, unchanged but for its base URL,
// key and API version (STREAMGATE_URL, STREAMGATE_KEY, STREAMGATE_API_VERSION). It prints what
// the SDK returned as one JSON object, which gateway's sdk_npm_test.go compares exactly.
import { GoogleGenAI } from '@google/genai';

const ai = new GoogleGenAI({
  apiKey: process.env.STREAMGATE_KEY,
  httpOptions: { baseUrl: process.env.STREAMGATE_URL, apiVersion: process.env.STREAMGATE_API_VERSION },
});
const model = 'gemini-2.5-flash';
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

console.log(JSON.stringify(out));
