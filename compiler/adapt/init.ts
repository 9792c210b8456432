import type { AdapterKind } from '../../formats/adapter-model.js';
import type { SeededRandom } from './random.js';

/**
 * Starting factors, as PEFT initialises them (huggingface/peft, src/peft/tuners/<kind>/layer.py, `init_lora_weights=True`
 * / `init_weights=True`), so ΔW is exactly 0 at step 0 and the adapted model starts as the base:
 * - LoRA (lora/layer.py reset_lora_parameters, after the reference microsoft/LoRA): lora_A (our down, rank × cols)
 *   kaiming_uniform_(a=√5), lora_B (our up) zeros.
 * - LoHa (loha/layer.py reset_adapter_parameters, FedPara's He init): hada_w1_a, hada_w1_b, hada_w2_a
 *   kaiming_uniform_(a=√5), hada_w2_b (our down2) zeros. (LyCORIS uses normal(0, 1/0.1) instead; PEFT's choice
 *   is the same family as LoRA's and keeps one initialiser.)
 * - LoKr (lokr/layer.py reset_adapter_parameters): lokr_w1 zeros, lokr_w2_a and lokr_w2_b kaiming_uniform_(a=√5).
 *   (LyCORIS zeroes lokr_w2_b and randomises w1; either way one factor of the product is 0.)
 * kaiming_uniform_ with a = √5 on a [fanOut, fanIn] matrix is U(−1/√fanIn, 1/√fanIn): gain √(2/(1+5)) times
 * √(3/fanIn). torch takes fan_in as size(1) of a 2-D tensor, i.e. our `cols` of each factor.
 */
export function initialFactors(kind: AdapterKind, shapes: ReadonlyArray<[number, number]>, random: SeededRandom): Float32Array[] {
  const zero = zeroFactor(kind);
  return shapes.map(([r, c], i) => {
    const f = new Float32Array(r * c);
    if (i === zero) return f;
    const bound = 1 / Math.sqrt(c);
    for (let k = 0; k < f.length; k++) f[k] = random.uniform(bound);
    return f;
  });
}

/** Which factor (AdapterLayer.factors index) starts at zero: LoRA's up, LoHa's down2, LoKr's w1. */
export function zeroFactor(kind: AdapterKind): number {
  return kind === 'lora' ? 0 : kind === 'loha' ? 3 : 0;
}
