/**
 * "Export as a PyTorch project": one zip with everything `python -m peft_playground.train` needs to run the same
 * recipe on the user's own GPUs: the run config, the user's data files (from their machine, into their download:
 * nothing is uploaded), the model's files when they are not on the Hugging Face Hub (the built-in model, files
 * from disk), the peft_playground package itself (python/ in this repo, a few tens of kB, so the zip runs
 * without cloning anything) and a README with the commands.
 */
import { supportedFamiliesText } from '../../engine/families';
import { zipFiles } from './zip';

/** python/peft_playground, bundled as text (Vite import.meta.glob). */
const PACKAGE_FILES = import.meta.glob('../../../python/peft_playground/*.{py,json}', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const PYPROJECT = import.meta.glob('../../../python/pyproject.toml', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export const PIP_INSTALL = 'pip install torch transformers peft accelerate safetensors numpy';
export const TRAIN_COMMAND = 'accelerate launch -m peft_playground.train --config run.json';

/** The parts of a run config the project needs (io does not import the worker's RunConfig type). */
export interface ProjectRunConfig {
  method: { id: string };
  model: { name: string; hubId: string | null; revision: string | null };
  data: { name: string; train: string; validation: string | null };
}

export interface PytorchProjectInput<C extends ProjectRunConfig> {
  config: C;
  /** The data files by the names the run config gives them. */
  data: { name: string; bytes: Uint8Array }[];
  /** The model's files when it is not on the Hub (built-in, from disk); they go to model/. */
  model: { name: string; bytes: Uint8Array }[] | null;
}

/** A relative path that stays inside the project folder ('../x', '/x', 'C:\\x' lose their escaping parts). */
export function safePath(name: string): string {
  const parts = name.split(/[\\/]+/).filter((p) => p !== '' && p !== '.' && p !== '..' && !/^[a-zA-Z]:$/.test(p));
  if (parts.length === 0) throw new Error(`file name ${JSON.stringify(name)} has no usable part`);
  return parts.join('/');
}

function readme(config: ProjectRunConfig, hasModelFiles: boolean): string {
  const { model, data, method } = config;
  const modelLine = model.hubId
    ? `The model is \`${model.hubId}\`${model.revision ? ` at revision \`${model.revision}\`` : ''} from the Hugging Face Hub (downloaded on the first run).`
    : hasModelFiles
      ? `The model (${model.name}) is in \`model/\`.`
      : `The model (${model.name}) came from files on your disk: pass its folder with \`--model /path/to/model\`.`;
  return `# ${method.id} on ${data.name}: a PEFT Playground run as a PyTorch project

Exported from the PEFT Playground. \`run.json\` is the run exactly as the app ran it (method and every option, the
recipe, the data columns and split); \`peft_playground/\` trains it with PyTorch, PEFT and accelerate, with the
app's initialisation, shuffling and split, and writes what the app writes.

${modelLine}

## Run

\`\`\`sh
${PIP_INSTALL}
${TRAIN_COMMAND}
\`\`\`

- Several GPUs (DDP): \`accelerate launch --multi_gpu --num_processes 4 -m peft_playground.train --config run.json\`
  (the batch size in run.json is the global batch; every GPU takes its share).
- A bigger model: add \`--model bert-base-uncased\` (a Hub id or a local folder of a family the app loads:
  ${supportedFamiliesText()}).
- The browser's numbers exactly: add \`--dropout 0\` and turn dropout off in the app too (dropout masks come from
  different generators).
- More data: replace the files named in run.json, or edit its \`data\` section (same columns).

## Outputs (\`outputs/\`, or \`--output-dir\`)

\`metrics.csv\` (loss, gradient norm, lr, trainable parameters per step), \`eval.csv\` (validation metrics at every
epoch end), \`freeze_log.csv\` and \`schedule.json\` (AFLoRA: the step each matrix froze at), \`rank_log.csv\`,
\`adapter/\` (a PEFT adapter: \`PeftModel.from_pretrained(base, "outputs/adapter")\`) and \`summary.json\`.
`;
}

/** The project's files by path inside the zip's top folder. */
export function pytorchProjectFiles<C extends ProjectRunConfig>(input: PytorchProjectInput<C>): Record<string, Uint8Array | string> {
  const { config } = input;
  const files: Record<string, Uint8Array | string> = {};
  const data = { ...config.data, train: safePath(config.data.train), validation: config.data.validation === null ? null : safePath(config.data.validation) };
  for (const file of input.data) {
    const path = safePath(file.name);
    if (path !== data.train && path !== data.validation) throw new Error(`data file ${file.name} is not named in the run config`);
    files[path] = file.bytes;
  }
  for (const needed of [data.train, data.validation]) {
    if (needed !== null && !(needed in files)) throw new Error(`the run config names ${needed}, but its file is missing`);
  }
  files['run.json'] = JSON.stringify({ ...config, data }, null, 2) + '\n';
  for (const file of input.model ?? []) files[`model/${safePath(file.name).split('/').pop()}`] = file.bytes;
  for (const [path, text] of Object.entries(PACKAGE_FILES)) files[`peft_playground/${path.split('/').pop()}`] = text;
  for (const text of Object.values(PYPROJECT)) files['pyproject.toml'] = text;
  files['README.md'] = readme(config, (input.model ?? []).length > 0);
  return files;
}

/** The zip: one top folder named after the run. */
export function pytorchProjectZip<C extends ProjectRunConfig>(input: PytorchProjectInput<C>): { name: string; bytes: Uint8Array } {
  const folder = `${input.config.method.id}-${input.config.data.name}`.replace(/[^\w.-]+/g, '_');
  const files = pytorchProjectFiles(input);
  return { name: `${folder}-pytorch.zip`, bytes: zipFiles(Object.fromEntries(Object.entries(files).map(([p, c]) => [`${folder}/${p}`, c]))) };
}
