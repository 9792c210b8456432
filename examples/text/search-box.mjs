// What a kiosk search box does with a compressed sentence encoder: embed a fixed list of phrases once, then rank
// them by cosine similarity to what the visitor typed. Run after `npm run build`:
//   node examples/text/search-box.mjs use.lrm vocab.json "where can I pay with a card" [tier]
import { readFileSync } from 'node:fs';
import { load, SentencePieceTokenizer, embedSentences, rankBySimilarity } from '../../dist/runtime/node.js';

const [model, vocab, query, tier] = process.argv.slice(2);
const phrases = [
  'Opening hours of the museum shop',
  'Card and contactless payment at the ticket desk',
  'Where to find the toilets',
  'Guided tours in English and German',
  'Lost and found: ask at the information desk',
  'Wheelchair access and lifts',
];
const tokenizer = SentencePieceTokenizer.fromJson(readFileSync(vocab, 'utf8'), vocab);
const session = await load(model, tier === undefined ? { preset: 'compact' } : { tier: Number(tier) });
const catalogue = await embedSentences(session, tokenizer, phrases); // once, at start-up
const [q] = await embedSentences(session, tokenizer, [query]);
for (const { index, score } of rankBySimilarity(q, catalogue)) console.log(score.toFixed(3), phrases[index]);
console.log(`(tier ${session.tiers - 1} of ${session.header.tiers.length - 1}, ${session.engine}, ${(session.bytesLoaded / 2 ** 20).toFixed(1)} MiB loaded)`);
await session.release();
