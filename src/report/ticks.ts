// Axis ticks for the HTML reports' charts, from d3-scale: round steps (1, 2, 5 × 10^k), labels
// formatted to the step's precision (0.6, never 0.6000000000000001), the domain widened to the
// next tick so the top of the axis is labelled.
import { scaleLinear } from 'd3-scale';

export interface Ticks {
  /** The axis runs from 0 to this (the data's maximum widened to a round value). */
  max: number;
  values: number[];
  labels: string[];
}

/**
 * Ticks of a linear axis from 0 to `dataMax`, about `count` of them. `integer` keeps only whole
 * values (a count of pages has no tick at 0.5); the axis then reaches at least 1.
 */
export function linearTicks(dataMax: number, count = 5, integer = false): Ticks {
  const top = Number.isFinite(dataMax) && dataMax > 0 ? dataMax : 1;
  const scale = scaleLinear().domain([0, integer ? Math.max(1, top) : top]).nice(count);
  let values = scale.ticks(count);
  let format = scale.tickFormat(count);
  if (integer) {
    values = values.filter((v) => Number.isInteger(v));
    format = scale.tickFormat(count, ',d');
  }
  const max = scale.domain()[1]!;
  return { max, values, labels: values.map((v) => format(v)) };
}
