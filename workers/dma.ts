// A DMA engine thread of the piscina pool (src/dma/pool.ts): runs one burst per task.
import { runBurst } from '../src/dma/engine.js';

export default runBurst;
