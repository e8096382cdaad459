/**
 * Reader for PyTorch `pytorch_model.bin` (torch.save zip format, PyTorch >= 1.6): a zip holding
 * `<archive>/data.pkl` (a pickled state dict) and one raw little-endian storage per `<archive>/data/<key>`.
 *
 * The pickle VM is hand-written because no maintained JS library unpickles torch checkpoints, and a
 * general unpickler would be unsafe anyway: this one only knows the opcodes torch.save emits and only
 * resolves an allow-list of globals (OrderedDict, tensor rebuild functions, storage classes), so a
 * malicious file cannot make it call anything.
 */
import { InputError } from '../engine/errors';
import type { StateDict } from '../engine/types';
import { checkLimit, LIMITS } from './limits';
import { decodeTensorBytes, ITEM_SIZE, type RawTensor, type SafetensorsDtype } from './safetensors';
import { ZipReader } from './unzip';

const HINT = 'Use the pytorch_model.bin that came with the model (or its model.safetensors); re-download it if it was cut short.';

/** A problem with the file's content (never our bug): the typed error the page shows. */
function bad(problem: string): never {
  throw new InputError(problem, HINT);
}

class GlobalRef {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A storage named through BINPERSID: its length comes from the archive's directory, its bytes are read on demand. */
class Storage {
  private values: RawTensor['data'] | null = null;
  constructor(
    readonly dtype: SafetensorsDtype,
    readonly key: string,
    /** Elements, from the zip entry's declared size. */
    readonly length: number,
    private readonly load: () => RawTensor['data'],
  ) {}
  get data(): RawTensor['data'] {
    this.values ??= this.load();
    return this.values;
  }
}

/** A tensor as the pickle describes it, checked against its storage's length; its values are read by `read()`. */
export interface TensorHeader {
  dtype: SafetensorsDtype;
  shape: number[];
}

class PendingTensor implements TensorHeader {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly numel: number,
  ) {}
  get dtype(): SafetensorsDtype {
    return this.storage.dtype;
  }
  read(): RawTensor {
    return viewOf(this.storage, this.offset, this.shape, this.stride, this.numel);
  }
}

class PickleDict {
  readonly entries = new Map<unknown, unknown>();
}

const STORAGE_DTYPES: Record<string, SafetensorsDtype> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((name) => `torch.${name}`),
]);

const MARK = Symbol('mark');

interface PickleContext {
  fileName: string;
  /** Tensors rebuilt so far (checked against the limit). */
  tensors: number;
  loadStorage(dtype: SafetensorsDtype, key: string): Storage;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Builds a contiguous tensor from a (possibly strided, offset) view of a storage; every index checked first. */
function rebuildTensor(storage: Storage, offset: unknown, size: unknown, stride: unknown, fileName: string): PendingTensor {
  const where = `${fileName}: the tensor on storage ${storage.key}`;
  if (!isIndex(offset)) bad(`${where} has offset ${JSON.stringify(offset)}, not a non-negative integer`);
  if (!Array.isArray(size) || !size.every(isIndex)) bad(`${where} has size ${JSON.stringify(size)}, not a list of non-negative integers`);
  if (!Array.isArray(stride) || stride.length !== size.length || !stride.every(isIndex)) {
    bad(`${where} has stride ${JSON.stringify(stride)}, not ${size.length} non-negative integers`);
  }
  checkLimit('tensorDims', size.length, fileName);
  let numel = 1;
  for (const d of size as number[]) numel *= d;
  checkLimit('tensorElements', numel, fileName);
  const src = storage;
  // The furthest element the view reads: every index is checked here, before the output is allocated.
  let last = offset as number;
  for (let d = 0; d < size.length; d++) last += ((size as number[])[d] - 1) * (stride as number[])[d];
  if (numel > 0 && last >= src.length) bad(`${where} reads element ${last}, past the storage's ${src.length}`);
  // Real checkpoints hold views no larger than their storage; a stride-0 view of 1e8 elements would allocate 400 MB.
  if (numel > src.length) bad(`${where} has ${numel} elements but its storage only ${src.length} (a stride-0 or overlapping view)`);
  return new PendingTensor(storage, offset as number, size as number[], stride as number[], numel);
}

function viewOf(storage: Storage, offset: number, size: number[], stride: number[], numel: number): RawTensor {
  const src = storage.data;
  const contiguous = size.every((_, i) => stride[i] === size.slice(i + 1).reduce((a, b) => a * b, 1));
  let data: RawTensor['data'];
  if (contiguous) {
    data = src.slice(offset, offset + numel);
  } else {
    const out = new (src.constructor as new (n: number) => typeof src)(numel);
    const index = new Array<number>(size.length).fill(0);
    for (let i = 0; i < numel; i++) {
      let at = offset;
      for (let d = 0; d < size.length; d++) at += index[d] * stride[d];
      (out as unknown as ArrayLike<unknown> & Record<number, unknown>)[i] = src[at];
      for (let d = size.length - 1; d >= 0; d--) {
        if (++index[d] < size[d]) break;
        index[d] = 0;
      }
    }
    data = out;
  }
  return { dtype: storage.dtype, shape: size, data };
}

function callGlobal(fn: GlobalRef, args: unknown[], ctx: PickleContext): unknown {
  switch (fn.qualified) {
    case 'collections.OrderedDict':
      return new PickleDict();
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof Storage)) bad(`${ctx.fileName}: _rebuild_tensor_v2 without a storage`);
      checkLimit('tensorCount', ++ctx.tensors, ctx.fileName);
      return rebuildTensor(storage as Storage, offset, size, stride, ctx.fileName);
    }
    case 'torch._utils._rebuild_parameter':
      // (tensor, requires_grad, backward_hooks): a Parameter is just its tensor here.
      return args[0];
    default:
      bad(`${ctx.fileName}: the pickle calls ${fn.qualified}, which a state dict does not need`);
  }
}

/** Runs the pickle program of data.pkl; returns its single result. */
export function unpickle(bytes: Uint8Array, ctx: PickleContext): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const fail = (problem: string): never => bad(`${ctx.fileName}: ${problem} (at pickle byte ${pos})`);
  checkLimit('pickleBytes', bytes.length, ctx.fileName);
  // A length read from the file: negative or past the end is a corrupt pickle (a negative one would move pos back).
  const need = (n: number) => {
    if (!(n >= 0) || pos + n > bytes.length) fail(n < 0 ? `negative length ${n}` : 'pickle ends early');
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => (need(8), (pos += 8), Number(view.getBigUint64(pos - 8, true)));
  const text = (n: number) => (need(n), (pos += n), decoder.decode(bytes.subarray(pos - n, pos)));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => (stack.length === 0 ? fail('stack underflow') : stack.pop());
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail('MARK missing');
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  const top = () => (stack.length === 0 ? fail('stack underflow') : stack[stack.length - 1]);
  const setItems = (target: unknown, kv: unknown[]) => {
    if (!(target instanceof PickleDict)) fail('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < kv.length; i += 2) (target as PickleDict).entries.set(kv[i], kv[i + 1]);
  };
  const global = (module: string, name: string): GlobalRef => {
    const ref = new GlobalRef(module, name);
    if (!ALLOWED_GLOBALS.has(ref.qualified)) {
      fail(`refuses to load global ${ref.qualified} (only plain state dicts of tensors are supported)`);
    }
    return ref;
  };

  let ops = 0;
  for (;;) {
    if (++ops > LIMITS.pickleOps.value) checkLimit('pickleOps', ops, ctx.fileName);
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME (protocol 4): just a length hint
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo ${key} missing`);
        stack.push(memo.get(key));
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8()));
        break;
      case 0x54: // BINSTRING
        stack.push(text(i32()));
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        const n = u8();
        need(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[pos + i]);
        if (n > 0 && bytes[pos + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        pos += n;
        stack.push(Number(value));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof GlobalRef) || !Array.isArray(args)) fail('REDUCE needs a global and an argument tuple');
        stack.push(callGlobal(fn as GlobalRef, args as unknown[], ctx));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!(cls instanceof GlobalRef) || !Array.isArray(args)) fail('NEWOBJ needs a class and an argument tuple');
        stack.push(callGlobal(cls as GlobalRef, args as unknown[], ctx));
        break;
      }
      case 0x62: // BUILD: object state (OrderedDict._metadata, parameter flags): not needed
        pop();
        break;
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop();
        const list = top();
        if (!Array.isArray(list)) fail('APPEND on a non-list');
        (list as unknown[]).push(value);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail('APPENDS on a non-list');
        for (const item of items) (list as unknown[]).push(item);
        break;
      }
      case 0x51: {
        // BINPERSID: ('storage', StorageClass, key, location, numel)
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof GlobalRef)) fail('unexpected persistent id');
        const [, cls, key] = pid as [string, GlobalRef, unknown];
        if (typeof key !== 'string' || !/^\w{1,64}$/.test(key)) fail(`storage key ${JSON.stringify(key)} is not a plain name`);
        const dtype = STORAGE_DTYPES[cls.name];
        if (!dtype) fail(`unsupported storage type ${cls.qualified}`);
        stack.push(ctx.loadStorage(dtype, key as string));
        break;
      }
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16)} (not a torch.save state dict?)`);
    }
  }
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** Parses pytorch_model.bin into named tensors (floats as Float32Array, like parseSafetensors). */
export interface ParseWeightsOptions {
  /** Sees every tensor's name, dtype and shape before any tensor data is read (throw to refuse the file). */
  checkHeader?: (tensors: ReadonlyMap<string, TensorHeader>) => void;
}

export function parseTorchBin(input: Uint8Array | ArrayBuffer, fileName = 'pytorch_model.bin', options: ParseWeightsOptions = {}): Map<string, RawTensor> {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (!ZIP_MAGIC.every((b, i) => bytes[i] === b)) {
    if (bytes[0] === 0x80) {
      bad(
        `${fileName} uses the legacy (pre-1.6) torch.save format, which is not supported: re-save it with a recent PyTorch ` +
          '(torch.save(torch.load(f), f)) or convert it to model.safetensors',
      );
    }
    bad(`${fileName} is not a PyTorch zip checkpoint (no zip signature)`);
  }
  const zip = new ZipReader(bytes, fileName, HINT);
  const pklName = [...zip.entries.keys()].find((name) => name === 'data.pkl' || name.endsWith('/data.pkl'));
  if (!pklName) bad(`${fileName}: no data.pkl inside the archive (not a torch.save checkpoint)`);
  const prefix = pklName!.slice(0, pklName!.length - 'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`) && new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() !== 'little') {
    bad(`${fileName}: big-endian checkpoints are not supported`);
  }
  const storages = new Map<string, Storage>();
  let totalBytes = 0;
  const ctx: PickleContext = {
    fileName,
    tensors: 0,
    loadStorage(dtype, key) {
      const cached = storages.get(key);
      if (cached) return cached;
      const path = `${prefix}data/${key}`;
      const entry = zip.entries.get(path);
      if (!entry) bad(`${fileName}: storage data/${key} is missing from the archive`);
      checkLimit('tensorCount', storages.size + 1, fileName);
      totalBytes += entry!.size;
      checkLimit('weightsBytes', totalBytes, fileName);
      if (entry!.size % ITEM_SIZE[dtype] !== 0) bad(`${fileName}: storage data/${key} has ${entry!.size} bytes, not a whole number of ${dtype} values`);
      const storage = new Storage(dtype, key, entry!.size / ITEM_SIZE[dtype], () => {
        const raw = zip.read(path);
        if (raw.length !== entry!.size) bad(`${fileName}: storage data/${key} inflates to ${raw.length} bytes, not the ${entry!.size} its directory entry declares`);
        return decodeTensorBytes(dtype, raw);
      });
      storages.set(key, storage);
      return storage;
    },
  };
  const result = unpickle(zip.read(pklName!), ctx);
  if (!(result instanceof PickleDict)) bad(`${fileName}: the pickle is not a state dict (dict of tensors)`);
  const pending = new Map<string, PendingTensor>();
  for (const [key, value] of result.entries) {
    // Non-tensor entries (e.g. nested dicts of full training checkpoints) are skipped.
    if (typeof key === 'string' && value instanceof PendingTensor) pending.set(key, value);
  }
  if (pending.size === 0) bad(`${fileName}: the state dict holds no tensors`);
  // Every shape is known from data.pkl and the directory: the caller checks them before any storage is read.
  options.checkHeader?.(pending);
  const tensors = new Map<string, RawTensor>();
  for (const [key, tensor] of pending) tensors.set(key, tensor.read());
  return tensors;
}

/** Float tensors of a pytorch_model.bin as a StateDict. */
export function torchBinToStateDict(tensors: ReadonlyMap<string, RawTensor>): StateDict {
  const dict: StateDict = new Map();
  for (const [name, t] of tensors) if (t.data instanceof Float32Array) dict.set(name, { shape: t.shape, data: t.data });
  return dict;
}
