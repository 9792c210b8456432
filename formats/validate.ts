/**
 * Semantic checks on a decoded header: everything the runtime will later index with must be in range,
 * so that a bad file fails here with a clear message instead of deep inside an engine.
 */
import { storedMatrixBytes } from './codes.js';
import { int4Bytes, int4LowPlaneBytes, midPlaneBytes, type Grouping } from './int4.js';
import { formatBytes as fmt, LrmCorruptHeaderError } from './errors.js';
import type { ByteRange, FactoredLayer, ModelHeader } from './model.js';
import { DATA_TYPE_SIZE, DataType, groupedBits, headerGrouping, PAYLOAD_ALIGNMENT, usesInt3, usesInt4 } from './model.js';

/** Largest int4 group size a reader accepts: more values per scale than any weight row needs. */
export const MAX_INT4_GROUP_SIZE = 1 << 16;

export function validateHeader(header: ModelHeader, fileName: string): void {
  new Validator(header, fileName).run();
}

class Validator {
  private readonly denseNames = new Set<string>();
  private readonly factoredWeights = new Set<string>();

  constructor(
    private readonly h: ModelHeader,
    private readonly fileName: string,
  ) {}

  private fail(problem: string): never {
    throw new LrmCorruptHeaderError(this.fileName, problem);
  }

  run(): void {
    // Version 1 runtimes know nothing of dense-from-a-tier layers: such a file must say version 2.
    if (this.h.formatVersion < 2 && (this.h.layers.some((l) => l.denseTier !== undefined) || this.h.tiers.some((t) => t.transient?.length))) {
      this.fail(`it stores dense weights for some tiers (format version 2) but says format version ${this.h.formatVersion}`);
    }
    if (this.h.formatVersion < 2 && this.h.graph.initializers.some((t) => t.storage !== undefined)) {
      this.fail(`it stores quantised dense weights (format version 2) but says format version ${this.h.formatVersion}`);
    }
    this.int4();
    this.sections();
    this.initializers();
    this.graph();
    this.h.layers.forEach((l, i) => this.layer(l, `factored layer ${i} ("${l.name}")`));
    this.tierRanks();
    this.lowPlanes();
    this.midPlanes();
    this.refits();
    this.presets();
  }

  /** int4 needs format version 3 and a group size; a group size needs something int4. */
  private int4(): void {
    const int4 = usesInt4(this.h);
    const g = this.h.int4GroupSize;
    if (int4 && this.h.formatVersion < 3) this.fail(`it stores int4 weights (format version 3) but says format version ${this.h.formatVersion}`);
    if (usesInt3(this.h) && this.h.formatVersion < 5) this.fail(`it stores int3 weights (format version 5) but says format version ${this.h.formatVersion}`);
    if (int4 && (g === undefined || !Number.isSafeInteger(g) || g < 1 || g > MAX_INT4_GROUP_SIZE)) this.fail(`it stores int4 weights with group size ${g ?? 'absent'}; it must be 1 to ${MAX_INT4_GROUP_SIZE}`);
    if (!int4 && g !== undefined) this.fail(`it has an int4 group size (${g}) but no int4 weights`);
    if (this.h.int4ScaleCodes && !int4) this.fail('it says its int4 scales are codes but has no int4 weights');
    if (this.h.int4ScaleCodes && this.h.formatVersion < 7) this.fail(`it stores int4 scales as codes (format version 7) but says format version ${this.h.formatVersion}`);
  }

  /** σ for every component, or (version 4, a layer that runs dense from some tier) for its stored components. */
  private sigmaLength(l: FactoredLayer, what: string): void {
    if (l.sigma.length === l.maxRank) return;
    const stored = l.blocks.length > 0 ? l.blocks[l.blocks.length - 1].rankEnd : 0;
    if (l.sigma.length !== stored || l.denseTier === undefined) {
      this.fail(`${what} has ${l.sigma.length} singular values for rank ${l.maxRank} (${stored} stored as factors)`);
    }
    if (this.h.formatVersion < 4) this.fail(`${what} has singular values only for its stored components (format version 4) but the file says format version ${this.h.formatVersion}`);
  }

  /**
   * 8-bit tiers (format version 4): bits never go down, only int4 files have them, and from the first one (b) on
   * every int4 matrix a tier needs has its low plane, where the layout puts it: dense weights' in tier b, a dense
   * M's in tier max(denseTier, b), a block's in tier max(its tier, b) (that tier's transient section for a layer
   * dense later); no other matrix has one.
   */
  private lowPlanes(): void {
    const { tiers, layers, graph, factorDType, formatVersion } = this.h;
    const b = tiers.findIndex((t) => t.bits === 8);
    tiers.forEach((t, k) => {
      if (k > 0 && (t.bits ?? 0) < (tiers[k - 1].bits ?? 0)) this.fail(`tier ${k} runs ${t.bits === undefined ? 'as stored' : `at ${t.bits} bits`} after tier ${k - 1} ran at ${tiers[k - 1].bits} bits; bits never go down the ladder`);
    });
    if (b >= 0) {
      if (!usesInt4(this.h)) this.fail(`tier ${b} runs at 8 bits, but the file stores nothing as int4`);
      if (formatVersion < 4) this.fail(`it has 8-bit tiers (format version 4) but says format version ${formatVersion}`);
    }
    const plane = (low: ByteRange | undefined, needed: boolean, rows: number, length: number, tier: number, section: ByteRange, where: string, sectionName: string): void => {
      if (!needed) {
        if (low !== undefined) this.fail(`${where} has a low plane, but no 8-bit tier reads it`);
        return;
      }
      if (low === undefined) this.fail(`${where} has no low plane, but tier ${tier} runs at 8 bits`);
      const bytes = int4LowPlaneBytes(rows, length);
      if (low.length !== bytes) this.fail(`${where} low plane holds ${fmt(low.length)} bytes, expected ${fmt(bytes)} for ${rows}×${length} values`);
      this.inPayload(low, `${where} low plane`);
      this.inside(low, section, `${where} low plane`, sectionName);
    };
    graph.initializers.forEach((t, i) => {
      const int4 = groupedBits(t.storage) !== undefined;
      const channels = int4 ? t.dims[t.scaleAxis!]! : 0;
      const rest = channels === 0 ? 0 : t.dims.reduce((a, d) => a * d, 1) / channels;
      plane(t.low, int4 && b >= 0, channels, rest, b, tiers[Math.max(b, 0)]?.range ?? t.range, `initializer ${i} ("${t.name}")`, `tier ${b}`);
    });
    layers.forEach((l, i) => {
      const what = `factored layer ${i} ("${l.name}")`;
      const int4 = factorDType === 'int4';
      if (l.denseTier !== undefined) {
        const at = Math.max(l.denseTier, b);
        plane(l.denseLow, int4 && l.denseStorage !== 'int8' && b >= 0, l.rows, l.cols, at, tiers[at].range, `${what} dense weight`, `tier ${at}`);
      } else if (l.denseLow !== undefined) this.fail(`${what} has a dense low plane but no dense weight`);
      l.blocks.forEach((blk, j) => {
        const at = Math.max(blk.tier, b);
        const needed = int4 && b >= 0 && (l.denseTier === undefined || at < l.denseTier);
        const transient = needed && l.denseTier !== undefined ? tiers[at].transient?.find((x) => x.denseTier === l.denseTier) : undefined;
        if (needed && l.denseTier !== undefined && !transient) this.fail(`${what} block ${j} needs its low planes in tier ${at}, which has no transient section for layers dense from tier ${l.denseTier}`);
        const [section, name] = transient ? [transient.range, `tier ${at}'s transient section`] : [tiers[Math.min(at, tiers.length - 1)].range, `tier ${at}`];
        const delta = blk.rankEnd - blk.rankBegin;
        plane(blk.leftLow, needed, delta, l.rows, at, section, `${what} block ${j} left factor`, name);
        plane(blk.rightLow, needed, delta, l.cols, at, section, `${what} block ${j} right factor`, name);
      });
    });
  }

  /**
   * 4-bit tiers (format version 6): only int4 files have them, and from the first one (m) on every int3 matrix has
   * its mid plane where the layout puts it: a dense weight's in tier m, an int3 dense M's in tier max(denseTier, m);
   * no other matrix has one.
   */
  private midPlanes(): void {
    const { tiers, layers, graph, formatVersion } = this.h;
    const m = tiers.findIndex((t) => t.bits === 4);
    if (m >= 0) {
      if (!usesInt4(this.h)) this.fail(`tier ${m} runs at 4 bits, but the file stores nothing grouped (int4 or int3)`);
      if (formatVersion < 6) this.fail(`it has 4-bit tiers (format version 6) but says format version ${formatVersion}`);
    }
    const plane = (mid: ByteRange | undefined, int3: boolean, rows: number, length: number, at: number, where: string): void => {
      if (!int3 || m < 0) {
        if (mid !== undefined) this.fail(`${where} has a mid plane, but ${int3 ? 'no 4-bit tier reads it' : 'is not int3'}`);
        return;
      }
      if (mid === undefined) this.fail(`${where} is int3 without a mid plane, but tier ${m} runs at 4 bits`);
      const bytes = midPlaneBytes(rows, length);
      if (mid.length !== bytes) this.fail(`${where} mid plane holds ${fmt(mid.length)} bytes, expected ${fmt(bytes)} for ${rows}×${length} values`);
      this.inPayload(mid, `${where} mid plane`);
      this.inside(mid, tiers[at].range, `${where} mid plane`, `tier ${at}`);
    };
    graph.initializers.forEach((t, i) => {
      const int3 = t.storage === 'int3';
      const channels = int3 ? t.dims[t.scaleAxis!]! : 0;
      const rest = channels === 0 ? 0 : t.dims.reduce((a, d) => a * d, 1) / channels;
      plane(t.mid, int3, channels, rest, m, `initializer ${i} ("${t.name}")`);
    });
    layers.forEach((l, i) => {
      const what = `factored layer ${i} ("${l.name}") dense weight`;
      if (l.denseTier === undefined && l.denseMid !== undefined) this.fail(`${what} has a mid plane but the layer never runs dense`);
      else if (l.denseTier !== undefined) plane(l.denseMid, l.denseStorage === 'int3', l.rows, l.cols, Math.max(l.denseTier, m), what);
    });
  }

  /** Bytes of `rows` stored rows of `length` values in the factor dtype. */
  private matrixBytes(rows: number, length: number): number {
    return storedMatrixBytes(this.h.factorDType, rows, length, this.grouping());
  }

  /** The file's grouping (group size 0 when absent: sizes then come out NaN, and int4() has said why). */
  private grouping(): Grouping {
    return headerGrouping(this.h) ?? 0;
  }

  /** Each tier's refits: known layers, each at most once, with A of the tier's rank and a bias of `rows` floats. */
  private refits(): void {
    const { tiers, layers, factorDType } = this.h;
    tiers.forEach((t, k) => {
      const seen = new Set<number>();
      for (const [i, r] of (t.refit?.layers ?? []).entries()) {
        const what = `tier ${k} refit ${i}`;
        const l = layers[r.layer];
        if (!l) this.fail(`${what} is for factored layer ${r.layer}, but the file has ${layers.length}`);
        if (seen.has(r.layer)) this.fail(`${what} refits factored layer ${r.layer} a second time`);
        seen.add(r.layer);
        const dense = l.denseTier !== undefined && k >= l.denseTier;
        if (Boolean(r.dense) !== dense) this.fail(`${what} is ${r.dense ? 'a dense refit' : 'a factor refit'}, but layer ${r.layer} runs ${dense ? 'dense' : 'factored'} at tier ${k}`);
        // A dense refit is M (rows of `cols` values); a factor refit is A as `rank` rows of `rows` values.
        const bytes = dense ? this.matrixBytes(l.rows, l.cols) : this.matrixBytes(t.ranks[r.layer], l.rows);
        if (r.left.length !== bytes) this.fail(`${what} ${dense ? 'dense weight' : 'left factor'} holds ${fmt(r.left.length)} bytes, expected ${fmt(bytes)} for ${dense ? `${l.rows}×${l.cols}` : `rank ${t.ranks[r.layer]} × ${l.rows} rows`} of ${factorDType}`);
        const ranges: Array<[ByteRange, string]> = [[r.left, 'left factor']];
        if (r.bias) {
          if (r.bias.length !== l.rows * 4) this.fail(`${what} bias holds ${fmt(r.bias.length)} bytes, expected ${fmt(l.rows * 4)} for ${l.rows} float32 values`);
          ranges.push([r.bias, 'bias']);
        }
        for (const [range, name] of ranges) {
          this.inPayload(range, `${what} ${name}`);
          this.inside(range, t.refit!.range, `${what} ${name}`, `tier ${k} refit section`);
        }
        if (factorDType === 'int8') this.scales(r.leftScales, l.rows, `${what} left scales`, `${l.rows} rows`);
        else if (r.leftScales !== undefined) this.fail(`${what} has int8 left scales, but its factors are ${factorDType}`);
      }
    });
  }

  /** Checks alignment and that the range lies inside the payload, without overflowing. */
  private inPayload(r: ByteRange, what: string): void {
    const total = this.h.payloadLength;
    if (r.offset % PAYLOAD_ALIGNMENT !== 0) {
      this.fail(`${what} starts at payload offset ${fmt(r.offset)}, not a multiple of ${PAYLOAD_ALIGNMENT}`);
    }
    if (r.length > total || r.offset > total - r.length) {
      this.fail(`${what} (${fmt(r.length)} bytes at offset ${fmt(r.offset)}) lies past the end of the ${fmt(total)}-byte payload`);
    }
  }

  private inside(r: ByteRange, outer: ByteRange, what: string, outerName: string): void {
    if (r.offset < outer.offset || r.offset + r.length > outer.offset + outer.length) {
      this.fail(`${what} (${fmt(r.length)} bytes at offset ${fmt(r.offset)}) lies outside ${outerName}`);
    }
  }

  private product(factors: number[], what: string): number {
    let n = 1;
    for (const [i, d] of factors.entries()) {
      if (!Number.isSafeInteger(d) || d < 0) this.fail(`${what} dim ${i} is ${d}; dims must be non-negative integers`);
      n *= d;
      if (!Number.isSafeInteger(n)) this.fail(`${what} has more elements than can be addressed`);
    }
    return n;
  }

  /**
   * The payload is dense section, tier 0, tier 1, ... back to back, so tiers 0..k are one contiguous read; then
   * the transient sections (version 2: dense tier descending, then tier ascending, so the ones a device at tier k
   * needs come first), then the refit sections (optional, one per tier) in tier order.
   */
  private sections(): void {
    const { dense, tiers, payloadLength } = this.h;
    this.inPayload(dense.range, 'the dense section');
    if (dense.range.offset !== 0) this.fail(`the dense section starts at payload offset ${fmt(dense.range.offset)}, expected 0`);
    let end = dense.range.length;
    let previous = 'the dense section';
    const next = (r: ByteRange, what: string): void => {
      this.inPayload(r, what);
      if (r.offset !== end) this.fail(`${what} starts at payload offset ${fmt(r.offset)}, but ${previous} ends at ${fmt(end)}`);
      end = r.offset + r.length;
      previous = what;
    };
    tiers.forEach((t, k) => {
      if (t.index !== k) this.fail(`tier ${k} says it is tier ${t.index}`);
      next(t.range, `tier ${k}`);
    });
    const transient = tiers.flatMap((t, k) => (t.transient ?? []).map((x) => ({ ...x, tier: k })));
    transient.forEach((x) => {
      if (!Number.isInteger(x.denseTier) || x.denseTier <= x.tier || x.denseTier >= tiers.length) {
        this.fail(`tier ${x.tier} has a transient section for layers dense from tier ${x.denseTier}, which must lie in ${x.tier + 1}..${tiers.length - 1}`);
      }
    });
    transient.sort((a, b) => b.denseTier - a.denseTier || a.tier - b.tier);
    transient.forEach((x, i) => {
      if (i > 0 && x.denseTier === transient[i - 1].denseTier && x.tier === transient[i - 1].tier) this.fail(`tier ${x.tier} has two transient sections for dense tier ${x.denseTier}`);
      next(x.range, `tier ${x.tier} transient section (dense from tier ${x.denseTier})`);
    });
    tiers.forEach((t, k) => {
      if (t.refit) next(t.refit.range, `tier ${k} refit section`);
    });
    if (end !== payloadLength) {
      this.fail(`the last section ends at payload offset ${fmt(end)}, but the payload is ${fmt(payloadLength)} bytes`);
    }
  }

  private initializers(): void {
    this.h.graph.initializers.forEach((t, i) => {
      const what = `initializer ${i} ("${t.name}")`;
      if (t.name === '') this.fail(`initializer ${i} has no name`);
      if (this.denseNames.has(t.name)) this.fail(`${what} is defined twice`);
      this.denseNames.add(t.name);
      if (t.storage !== undefined && t.dataType !== DataType.FLOAT) this.fail(`${what} is stored as ${t.storage}, but only float32 weights can be`);
      const bits = groupedBits(t.storage);
      const grouped = bits !== undefined;
      const size = t.storage === 'int8' ? 1 : t.storage === 'fp16' ? 2 : grouped ? 0.5 : DATA_TYPE_SIZE[t.dataType];
      if (size === undefined) this.fail(`${what} has data type code ${t.dataType}, which cannot be stored in a .lrm payload`);
      if (grouped) {
        const axis = t.scaleAxis ?? -1;
        if (!(axis === 0 || (axis === 1 && t.dims.length === 2))) this.fail(`${what} is ${t.storage} with channels along axis ${axis} of ${t.dims.length} dims; they must run along axis 0, or axis 1 of a 2-D weight`);
        if (t.scales !== undefined) this.fail(`${what} is ${t.storage} but has header scales (its scales lie in the payload)`);
      } else if (t.storage === 'int8') {
        const axis = t.scaleAxis ?? -1;
        // Channels are the rows of [dims0, rest] (axis 0) or the columns of a 2-D weight (axis 1).
        if (!(axis === 0 || (axis === 1 && t.dims.length === 2))) this.fail(`${what} has int8 scales along axis ${axis} of ${t.dims.length} dims; they must run along axis 0, or axis 1 of a 2-D weight`);
        this.scales(t.scales, t.dims[axis]!, `${what} scales`, `${t.dims[axis]} indices of axis ${axis}`);
      } else if (t.scales !== undefined) {
        this.fail(`${what} has int8 scales, but is stored ${t.storage ?? 'as it is'}`);
      }
      const elements = this.product(t.dims, what);
      const channels = grouped ? t.dims[t.scaleAxis!] : 0;
      const bytes = grouped ? int4Bytes(channels, channels === 0 ? 0 : elements / channels, this.grouping(), bits) : elements * size;
      if (!Number.isSafeInteger(bytes)) this.fail(`${what} has more bytes than can be addressed`);
      if (t.range.length !== bytes) {
        this.fail(`${what} dims [${t.dims.join(', ')}] need ${fmt(bytes)} bytes, but its byte range holds ${fmt(t.range.length)}`);
      }
      this.inPayload(t.range, what);
      this.inside(t.range, this.h.dense.range, what, 'the dense section');
    });
  }

  /** Nodes must be in topological order: each input is a graph input, a weight, or an earlier node's output. */
  private graph(): void {
    const { graph, layers } = this.h;
    const defined = new Set<string>();
    for (const [kind, values] of [['graph input', graph.inputs], ['graph output', graph.outputs]] as const) {
      values.forEach((v, i) => {
        if (v.name === '') this.fail(`${kind} ${i} has no name`);
        v.shape.forEach((d, j) => {
          if (typeof d === 'number' && (!Number.isSafeInteger(d) || d < 0)) {
            this.fail(`${kind} "${v.name}" dim ${j} is ${d}; dims must be non-negative integers or names`);
          }
        });
      });
    }
    for (const v of graph.inputs) defined.add(v.name);
    for (const t of graph.initializers) defined.add(t.name);
    for (const l of layers) defined.add(l.weight);

    const producer = new Map<string, number>();
    graph.nodes.forEach((n, i) => {
      const what = `node ${i} ("${n.name}")`;
      if (n.opType === '') this.fail(`${what} has no op type`);
      for (const out of n.outputs) {
        if (out === '') continue; // an omitted optional output
        if (defined.has(out) || producer.has(out)) this.fail(`${what} output "${out}" is already defined elsewhere`);
        producer.set(out, i);
      }
    });
    graph.nodes.forEach((n, i) => {
      for (const input of n.inputs) {
        if (input === '' || defined.has(input)) continue;
        const p = producer.get(input);
        if (p === undefined) this.fail(`node ${i} ("${n.name}") input "${input}" names no graph input, weight or node output`);
        if (p >= i) {
          this.fail(`node ${i} ("${n.name}") uses "${input}" before node ${p} produces it (nodes out of order, or a cycle)`);
        }
      }
    });
    for (const v of graph.outputs) {
      if (!defined.has(v.name) && !producer.has(v.name)) this.fail(`graph output "${v.name}" is never produced`);
    }
  }

  private layer(l: FactoredLayer, what: string): void {
    const { graph, tiers, factorDType } = this.h;
    if (l.weight === '') this.fail(`${what} has no weight name`);
    if (this.factoredWeights.has(l.weight)) this.fail(`${what} weight "${l.weight}" is factored twice`);
    this.factoredWeights.add(l.weight);
    if (this.denseNames.has(l.weight)) this.fail(`${what} weight "${l.weight}" is also stored dense`);
    if (l.nodeIndex >= graph.nodes.length) this.fail(`${what} points to node ${l.nodeIndex}, but the graph has ${graph.nodes.length} nodes`);
    if (!graph.nodes[l.nodeIndex].inputs.includes(l.weight)) {
      this.fail(`${what} points to node ${l.nodeIndex} ("${graph.nodes[l.nodeIndex].name}"), which does not use weight "${l.weight}"`);
    }
    if (l.rows < 1 || l.cols < 1) this.fail(`${what} is ${l.rows}×${l.cols}; both sides must be at least 1`);
    const elements = this.product(l.weightDims, `${what} weight`);
    if (!Number.isSafeInteger(l.rows * l.cols) || elements !== l.rows * l.cols) {
      this.fail(`${what} weight dims [${l.weightDims.join(', ')}] do not hold a ${l.rows}×${l.cols} matrix`);
    }
    if (l.maxRank > Math.min(l.rows, l.cols)) this.fail(`${what} rank ${l.maxRank} exceeds min(${l.rows}, ${l.cols})`);
    this.sigmaLength(l, what);
    if (!l.sigma.every(Number.isFinite)) this.fail(`${what} has a singular value that is not a finite number`);

    const int8 = factorDType === 'int8';
    if (int8) this.scales(l.leftScales, l.rows, `${what} left scales`, `${l.rows} rows`);
    else if (l.leftScales !== undefined) this.fail(`${what} has int8 left scales, but its factors are ${factorDType}`);
    const d = l.denseTier;
    if (d !== undefined && (!Number.isInteger(d) || d < 0 || d >= tiers.length)) this.fail(`${what} runs dense from tier ${d}, but the file has ${tiers.length} tiers`);
    let rank = 0;
    let lastTier = 0;
    l.blocks.forEach((b, i) => {
      const blk = `${what} block ${i}`;
      if (b.rankBegin !== rank) this.fail(`${blk} starts at rank ${b.rankBegin}, expected ${rank} (blocks must be contiguous)`);
      if (b.rankEnd < b.rankBegin) this.fail(`${blk} ends at rank ${b.rankEnd}, before it begins (${b.rankBegin})`);
      if (b.tier < lastTier) this.fail(`${blk} belongs to tier ${b.tier}, after a block of tier ${lastTier}`);
      if (b.tier >= tiers.length) this.fail(`${blk} belongs to tier ${b.tier}, but the file has ${tiers.length} tiers`);
      const delta = b.rankEnd - b.rankBegin;
      if (int8) this.scales(b.rightScales, delta, `${blk} right scales`, `${delta} components`);
      else if (b.rightScales !== undefined) this.fail(`${blk} has int8 right scales, but its factors are ${factorDType}`);
      for (const [side, r, n] of [['left', b.left, l.rows], ['right', b.right, l.cols]] as const) {
        const bytes = this.matrixBytes(delta, n);
        if (r.length !== bytes) {
          const unit = side === 'left' ? 'rows' : 'cols';
          this.fail(`${blk} ${side} factor holds ${fmt(r.length)} bytes, expected ${fmt(bytes)} bytes for ${delta} components × ${n} ${unit} of ${factorDType}`);
        }
        this.inPayload(r, `${blk} ${side} factor`);
        // A layer that runs dense later keeps its blocks in transient sections, the others in their tier's own.
        const transient = l.denseTier === undefined ? undefined : tiers[b.tier].transient?.find((x) => x.denseTier === l.denseTier);
        if (l.denseTier !== undefined && !transient) this.fail(`${blk} belongs to tier ${b.tier}, which has no transient section for layers dense from tier ${l.denseTier}`);
        this.inside(r, transient?.range ?? tiers[b.tier].range, `${blk} ${side} factor`, transient ? `tier ${b.tier}'s transient section` : `tier ${b.tier}`);
      }
      rank = b.rankEnd;
      lastTier = b.tier;
    });
    if (l.denseTier === undefined) {
      if (rank !== l.maxRank) this.fail(`${what} blocks end at rank ${rank}, but its rank is ${l.maxRank}`);
      return;
    }
    this.denseWeight(l, what, lastTier, l.blocks.length > 0);
  }

  /** A layer that runs dense from tier denseTier: its weight lies in that tier, after every block, full rank. */
  private denseWeight(l: FactoredLayer, what: string, lastBlockTier: number, hasBlocks: boolean): void {
    const { tiers, factorDType } = this.h;
    const d = l.denseTier!;
    if (hasBlocks && lastBlockTier >= d) this.fail(`${what} has a block of tier ${lastBlockTier}, but runs dense from tier ${d}`);
    if (l.denseStorage !== undefined && factorDType !== 'int4') this.fail(`${what} stores its dense weight ${l.denseStorage}, which only int4 files may do (its factors are ${factorDType})`);
    const dtype = l.denseStorage ?? factorDType;
    const bytes = l.denseStorage === 'int8' ? l.rows * l.cols : l.denseStorage === 'int3' ? int4Bytes(l.rows, l.cols, this.grouping(), 3) : this.matrixBytes(l.rows, l.cols);
    if (l.dense!.length !== bytes) this.fail(`${what} dense weight holds ${fmt(l.dense!.length)} bytes, expected ${fmt(bytes)} for ${l.rows}×${l.cols} of ${dtype}`);
    this.inPayload(l.dense!, `${what} dense weight`);
    this.inside(l.dense!, tiers[d].range, `${what} dense weight`, `tier ${d}`);
    if (dtype === 'int8') this.scales(l.denseScales, l.rows, `${what} dense scales`, `${l.rows} rows`);
    else if (l.denseScales !== undefined) this.fail(`${what} has int8 dense scales, but its dense weight is ${dtype}`);
  }

  /** An int8 scale vector: one entry per row or component, each a finite number ≥ 0. */
  private scales(values: number[] | undefined, expected: number, what: string, per: string): void {
    const length = values?.length ?? 0;
    if (values === undefined || length !== expected) this.fail(`${what} has ${length} entries for ${per}`);
    values.forEach((v, i) => {
      if (!Number.isFinite(v) || v < 0) this.fail(`${what}[${i}] is ${v}; scales must be finite and ≥ 0`);
    });
  }

  /** tier k's rank of a layer must be what its blocks of tiers 0..k add up to. */
  private tierRanks(): void {
    const { tiers, layers } = this.h;
    tiers.forEach((t, k) => {
      if (!Number.isFinite(t.budget) || t.budget < 0) this.fail(`tier ${k} budget ${t.budget} is not a non-negative number`);
      if (t.ranks.length !== layers.length) this.fail(`tier ${k} lists ${t.ranks.length} ranks for ${layers.length} factored layers`);
      layers.forEach((l, i) => {
        const expected = l.denseTier !== undefined && k >= l.denseTier ? l.maxRank : l.blocks.filter((b) => b.tier <= k).reduce((r, b) => Math.max(r, b.rankEnd), 0);
        if (t.ranks[i] !== expected) {
          this.fail(`tier ${k} gives factored layer ${i} ("${l.name}") rank ${t.ranks[i]}, but its blocks up to tier ${k} add up to ${expected}${l.denseTier !== undefined && k >= l.denseTier ? ' (it runs dense there: full rank)' : ''}`);
        }
      });
    });
  }

  private presets(): void {
    const tierCount = this.h.tiers.length;
    this.h.presets.forEach((p, i) => {
      const what = `preset ${i} ("${p.name}")`;
      if (!Number.isInteger(p.tiers) || p.tiers < 1 || p.tiers > tierCount) {
        this.fail(`${what} loads ${p.tiers} tiers, but the file has ${tierCount}`);
      }
      for (const key of ['latencyMsP50', 'latencyMsP95', 'peakMemoryMb', 'fidelity'] as const) {
        const v = p[key];
        if (v !== undefined && (!Number.isFinite(v) || v < 0)) this.fail(`${what} ${key} is ${v}, not a non-negative number`);
      }
      if (p.fidelity !== undefined && p.fidelity > 1) this.fail(`${what} fidelity is ${p.fidelity}, above 1`);
    });
  }
}
