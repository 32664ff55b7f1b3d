// The one kernel module the trainer loads (dist/kernels.wasm and, for the threaded build, dist/kernels-shared.wasm).
export { matmul, transpose } from './matmul';
export {
  adamUpdate,
  addLayerNormForward,
  attentionBackward,
  attentionForward,
  colSum,
  expRange,
  layerNormBackward,
  layerNormForward,
  layerNormReduce,
} from './fused';
