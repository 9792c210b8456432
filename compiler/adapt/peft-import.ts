import type { AdapterDType, AdapterLayer, AdapterModel } from '../../formats/adapter-model.js';
import { CompileError, CompileOptionError } from '../errors.js';
import { openAdapterBase } from './base.js';
import { readSafetensors, type SafeTensor } from './safetensors.js';
import { adapterTargets, type AdapterTarget } from '../../runtime/adapters/targets.js';

export interface PeftImportOptions {
  /**
   * PEFT module name → base weight initializer (or node) name, as `module=initializer` strings (the CLI's --map)
   * or a record. Modules not listed are matched automatically: the initializer named `<module>.weight`, else the
   * one adaptable weight whose name contains the module name.
   */
  map?: readonly string[] | Readonly<Record<string, string>>;
  /** Storage for the adapter file (default: fp16 when every tensor was F16, else fp32). */
  dtype?: AdapterDType;
  /** The base's file name (messages, AdapterModel.base.fileName). */
  fileName?: string;
  configName?: string;
  tensorsName?: string;
}

/** What we read of PEFT's adapter_config.json (LoraConfig). */
interface PeftConfig {
  peft_type?: string;
  r?: number;
  lora_alpha?: number;
  target_modules?: string[] | string | null;
  use_rslora?: boolean;
  use_dora?: boolean;
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
}

const PREFIX = 'base_model.model.';

/**
 * A PEFT LoRA adapter (`adapter_config.json` + `adapter_model.safetensors`, as `save_pretrained` writes them) as an
 * AdapterModel for the base .lrm `lrmBytes`. PEFT's ΔW = (lora_alpha / r) · lora_B·lora_A with lora_A [r, in]
 * (a Conv's [r, in, kh, kw]) and lora_B [out, r] (a Conv's [out, r, 1, 1]) is our LoRA exactly: up = lora_B,
 * down = lora_A, rows = outputs, cols = inputs. With use_rslora PEFT scales by lora_alpha / √r; that is stored as
 * alpha = lora_alpha · √r so that alpha / rank gives the same scale.
 */
export async function importPeftLora(lrmBytes: Uint8Array, configJson: string, safetensors: Uint8Array, options: PeftImportOptions = {}): Promise<AdapterModel> {
  const configName = options.configName ?? 'adapter_config.json';
  const base = await openAdapterBase(lrmBytes, options.fileName);
  let config: PeftConfig;
  try {
    config = JSON.parse(configJson) as PeftConfig;
  } catch (e) {
    throw new CompileError(`${configName} is not JSON (${(e as Error).message}); give the adapter_config.json that save_pretrained wrote`, 'peft-config');
  }
  if (config.peft_type !== undefined && config.peft_type !== 'LORA') {
    throw new CompileError(`${configName} is a ${config.peft_type} adapter; only PEFT LoRA adapters are imported (train LoHa/LoKr here with \`lowrank adapt\`)`, 'peft-config');
  }
  if (config.use_dora) throw new CompileError(`${configName} is a DoRA adapter (use_dora): its magnitude vector has no place in a LoRA adapter; retrain without use_dora`, 'peft-config');
  const r = config.r;
  const loraAlpha = config.lora_alpha ?? r;
  if (!Number.isSafeInteger(r) || r! < 1 || !(typeof loraAlpha === 'number' && loraAlpha > 0)) {
    throw new CompileError(`${configName} needs r (a whole number ≥ 1) and lora_alpha (> 0); it has r ${String(r)}, lora_alpha ${String(config.lora_alpha)}`, 'peft-config');
  }

  const tensors = readSafetensors(safetensors, options.tensorsName);
  const modules = new Map<string, { A?: SafeTensor; B?: SafeTensor }>();
  for (const [name, t] of tensors) {
    const m = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(name);
    if (!m) continue;
    const entry = modules.get(m[1]) ?? {};
    entry[m[2] as 'A' | 'B'] = t;
    modules.set(m[1], entry);
  }
  if (modules.size === 0) {
    throw new CompileError(`${options.tensorsName ?? 'adapter_model.safetensors'} holds no LoRA weights (${PREFIX}<module>.lora_A.weight and .lora_B.weight); it has ${[...tensors.keys()].slice(0, 5).join(', ')}`, 'peft-tensors');
  }

  const targets = adapterTargets(base.header);
  const map = parseMap(options.map);
  const layers: AdapterLayer[] = [];
  for (const [module, { A, B }] of modules) {
    if (!A || !B) throw new CompileError(`module "${module}" has lora_${A ? 'A' : 'B'} but no lora_${A ? 'B' : 'A'}; the safetensors file is incomplete`, 'peft-tensors');
    const target = resolveTarget(module, map, targets, base.fileName);
    const rank = A.shape[0];
    const cols = A.shape.slice(1).reduce((a, b) => a * b, 1);
    const rows = B.shape[0];
    const bRank = B.shape.slice(1).reduce((a, b) => a * b, 1);
    if (bRank !== rank || rows !== target.rows || cols !== target.cols) {
      throw new CompileOptionError(`module "${module}": lora_B [${B.shape.join(', ')}] · lora_A [${A.shape.join(', ')}] is not the ${target.rows}×${target.cols} of "${target.target}"; map it to the right weight with --map ${module}=<initializer>`, 'peft-map');
    }
    const alpha = patternValue(config.alpha_pattern, module) ?? loraAlpha;
    const scaleAlpha = config.use_rslora ? alpha * Math.sqrt(rank) : alpha;
    layers.push({ target: target.target, rows, cols, rank, alpha: scaleAlpha, factors: [B.data, A.data] });
  }
  const targetsUsed = new Set<string>();
  for (const l of layers) {
    if (targetsUsed.has(l.target)) throw new CompileOptionError(`two PEFT modules map to "${l.target}"; give each its own weight with --map module=initializer`, 'peft-map');
    targetsUsed.add(l.target);
  }
  // The base's graph order, as the trainer writes them.
  layers.sort((a, b) => targets.findIndex((t) => t.target === a.target) - targets.findIndex((t) => t.target === b.target));
  const allHalf = [...modules.values()].every(({ A, B }) => A!.dtype === 'F16' && B!.dtype === 'F16');
  return {
    kind: 'lora',
    base: base.identity,
    dtype: options.dtype ?? (allHalf ? 'fp16' : 'fp32'),
    layers,
    notes: [`imported from PEFT LoRA (r ${r}, lora_alpha ${loraAlpha}${config.use_rslora ? ', rsLoRA' : ''}): ${[...modules.keys()].join(', ')}`],
  };
}

/** `module=initializer` pairs (or a record) as a map; a pair without `=` is an error. */
function parseMap(map: PeftImportOptions['map']): Map<string, string> {
  if (!map) return new Map();
  if (!Array.isArray(map)) return new Map(Object.entries(map as Record<string, string>));
  return new Map(
    (map as readonly string[]).map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0 || at === pair.length - 1) throw new CompileOptionError(`--map "${pair}" is not module=initializer (e.g. --map fc1=fc1.weight)`, 'peft-map');
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

function resolveTarget(module: string, map: Map<string, string>, targets: readonly AdapterTarget[], fileName: string): AdapterTarget {
  const valid = () => targets.map((t) => t.target).join(', ');
  const named = map.get(module);
  if (named !== undefined) {
    const t = targets.find((x) => x.target === named || x.node === named);
    if (!t) throw new CompileOptionError(`--map ${module}=${named}: "${named}" is not an adaptable weight of ${fileName}; valid: ${valid()}`, 'peft-map');
    return t;
  }
  const exact = targets.find((t) => t.target === `${module}.weight` || t.target === module);
  if (exact) return exact;
  const containing = targets.filter((t) => t.target.includes(module));
  if (containing.length === 1) return containing[0];
  const why = containing.length === 0 ? 'no weight of the base has that name in it' : `${containing.map((t) => t.target).join(', ')} all have it in their names`;
  throw new CompileOptionError(`PEFT module "${module}" matches no single weight of ${fileName} (${why}); name it with --map ${module}=<initializer>, one of: ${valid()}`, 'peft-map');
}

/** PEFT's rank_pattern/alpha_pattern: a key matches the module name exactly or as its dotted suffix. */
function patternValue(pattern: Record<string, number> | undefined, module: string): number | undefined {
  if (!pattern) return undefined;
  for (const [key, value] of Object.entries(pattern)) if (module === key || module.endsWith(`.${key}`)) return value;
  return undefined;
}
