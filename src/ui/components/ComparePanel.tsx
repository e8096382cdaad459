import { useMemo, useState } from 'react';
import { compareTable, FLOPS_CAPTION, formatLr, formatParams, METRIC_CAPTION, MS_PER_STEP_CAPTION, tableCsv, tableMarkdown, type TableRow } from '../../worker/compare';
import { ARM_CHOICES, armsOf, compareMetric, defaultArmLr, gridRemaining, gridStatus, gridTotal, parseArmLr, parseSeeds } from '../compare';
import { useAppState, useController } from '../context';
import { downloadBlob } from '../exports';
import { formatDuration } from '../format';
import { runConfigOf, type Setup } from '../setup';
import { isActive, startBlocker } from '../state';
import { useStore } from '../store';

const DEFAULT_ARMS = ['aflora', 'pm-trainable', 'lora'];

const pct = (mean: number, sd: number) => (Number.isFinite(mean) ? `${(100 * mean).toFixed(2)} ± ${(100 * sd).toFixed(2)}` : '–');

/** The paper-style table (Tables 2/3/6); each run of a row links to it (charts, heatmap). */
export function CompareTable({ rows, metric, onOpen }: { rows: readonly TableRow[]; metric: string; onOpen: (runId: string) => void }) {
  return (
    <table className="preview compare-table" data-testid="compare-table">
      <caption className="muted small" data-testid="compare-caption">
        {METRIC_CAPTION} {MS_PER_STEP_CAPTION} {FLOPS_CAPTION}
      </caption>
      <thead>
        <tr>
          <th>method</th>
          <th className="num" title="Peak adapter learning rate of the arm's runs">
            adapter LR
          </th>
          <th className="num">{metric} (last epoch)</th>
          <th className="num">{metric} (best epoch)</th>
          <th className="num">avg trainable</th>
          <th className="num">final trainable</th>
          <th className="num" title={MS_PER_STEP_CAPTION}>
            ms/step
          </th>
          <th className="num" title={FLOPS_CAPTION}>
            rel. FLOPs/step
          </th>
          <th>runs</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.arm}>
            <td>{r.label}</td>
            <td className="num">{formatLr(r.adapterLr)}</td>
            <td className="num">{pct(r.last.mean, r.last.sd)}</td>
            <td className="num">{pct(r.best.mean, r.best.sd)}</td>
            <td className="num">{formatParams(r.avgTrainable)}</td>
            <td className="num">{formatParams(r.finalTrainable)}</td>
            <td className="num">{Number.isFinite(r.msPerStep) ? r.msPerStep.toFixed(0) : '–'}</td>
            <td className="num">{r.relativeFlops.toFixed(2)}</td>
            <td>
              {r.runIds.map((id, i) => (
                <button key={id} type="button" className="link" title="Show this run (charts, heatmap)" onClick={() => onOpen(id)} data-testid="compare-run-link">
                  #{i + 1}
                </button>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Several methods or ablations x several seeds on the loaded data, one run after another, into one table. */
export function ComparePanel({ setup }: { setup: Setup }) {
  const controller = useController();
  const { grid, running } = useStore(controller.compare, (s) => s);
  const [picked, setPicked] = useState<string[]>(DEFAULT_ARMS);
  const [seedText, setSeedText] = useState('1, 2, 3');
  // Adapter LRs the user typed per arm; an arm without one trains at its method's suggested LR.
  const [lrText, setLrText] = useState<Record<string, string>>({});
  const model = useAppState((s) => (s.model.status === 'ready' ? s.model.info : null));
  const data = useAppState((s) => (s.data.status === 'ready' ? s.data.preview : null));
  const labelNames = useAppState((s) => s.labelNames);
  const blocker = useAppState(startBlocker);
  const active = useAppState((s) => isActive(s.training));
  // The whole run (a stable reference between its updates), not an object made in the selector.
  const run = useAppState((s) => s.run);
  const stepsPerSecond = useAppState((s) => s.throughput.stepsPerSecond);
  const n = run?.metrics.step.length ?? 0;
  const current = running && run?.plan && !run.finished ? { stepsDone: n > 0 ? run.metrics.step[n - 1] + 1 : 0, totalSteps: run.plan.totalSteps } : null;
  const { seeds, problem: seedProblem } = parseSeeds(seedText);
  const lrs: Record<string, number> = {};
  let lrProblem: string | null = null;
  for (const id of picked) {
    if (lrText[id] === undefined) continue;
    const { lr, problem } = parseArmLr(lrText[id]);
    if (problem) lrProblem ??= `${ARM_CHOICES.find((c) => c.id === id)?.label ?? id}: ${problem}`;
    else lrs[id] = lr;
  }

  const built = useMemo(() => {
    if (!model || !data) return null;
    try {
      return runConfigOf(setup, model, data, labelNames);
    } catch {
      return null;
    }
  }, [setup, model, data, labelNames]);

  const why = blocker ?? (picked.length === 0 ? 'Pick at least one method.' : (seedProblem ?? lrProblem)) ?? (built ? null : 'Fix the settings first (3 · Method & settings).');
  const total = picked.length * seeds.length;

  function start() {
    if (why || !built || active) return;
    const arms = armsOf(picked, { method: setup.method, options: setup.options[setup.method] }, lrs);
    controller.startCompare({ arms, seeds, metric: compareMetric(built.data.task) }, built);
  }

  const rows = grid ? compareTable(grid.plan, grid.results) : [];
  const failed = grid ? grid.results.filter((r) => r.failed) : [];
  const armLabel = (id: string) => grid?.plan.arms.find((a) => a.id === id)?.label ?? id;
  const left = grid ? gridRemaining(grid).length : 0;
  const status = grid ? gridStatus(grid, current ? { ...current, seconds: stepsPerSecond > 0 ? current.stepsDone / stepsPerSecond : 0 } : null) : null;
  // A kept grid resumes on the model and data it was made for.
  const resumeBlocker = !grid
    ? null
    : (blocker ??
      (model?.name !== grid.base.model.name ? `Load ${grid.base.model.name} to resume.` : data?.name !== grid.base.data.name ? `Load the data ${grid.base.data.name} to resume.` : null));
  const file = grid ? `compare-${grid.base.data.name.replace(/[^\w.-]+/g, '_')}` : 'compare';

  return (
    <section className="panel compare" aria-labelledby="compare-title">
      <h2 id="compare-title">Compare</h2>
      <p className="muted small">
        Methods and ablations × seeds on the loaded data with the recipe above, one run after another; every run is kept in Runs. Each arm trains at its own adapter LR (next to it:
        its method's suggested one until you change it).
      </p>
      <fieldset className="compare-arms" disabled={running}>
        {(['Methods', 'AFLoRA ablations'] as const).map((group) => (
          <div key={group}>
            <strong className="small">{group}</strong>
            {ARM_CHOICES.filter((c) => c.group === group).map((c) => (
              <label key={c.id} className="check">
                <input
                  type="checkbox"
                  checked={picked.includes(c.id)}
                  onChange={(e) => setPicked((list) => (e.target.checked ? [...list, c.id] : list.filter((id) => id !== c.id)))}
                  data-testid={`compare-arm-${c.id}`}
                />{' '}
                {c.label}
                {picked.includes(c.id) && (
                  <>
                    {' '}
                    <input
                      type="text"
                      className="compare-lr"
                      size={7}
                      value={lrText[c.id] ?? formatLr(defaultArmLr(c.id))}
                      onChange={(e) => setLrText((texts) => ({ ...texts, [c.id]: e.target.value }))}
                      aria-label={`${c.label} adapter LR`}
                      title="Adapter learning rate of this arm (default: the method's suggested one, from its paper)"
                      aria-invalid={lrText[c.id] !== undefined && parseArmLr(lrText[c.id]).problem !== null}
                      data-testid={`compare-lr-${c.id}`}
                    />
                  </>
                )}
              </label>
            ))}
          </div>
        ))}
        <label>
          Seeds{' '}
          <input type="text" value={seedText} onChange={(e) => setSeedText(e.target.value)} data-testid="compare-seeds" aria-invalid={seedProblem !== null} />
        </label>
      </fieldset>
      <div className="row">
        <button type="button" className="primary" disabled={why !== null || active || running} onClick={start} data-testid="compare-start">
          Run comparison ({total} run{total === 1 ? '' : 's'})
        </button>
        {running && (
          <button type="button" className="danger" onClick={() => controller.stopCompare()} data-testid="compare-stop">
            Stop comparison
          </button>
        )}
        {grid && !running && left > 0 && (
          <button type="button" disabled={resumeBlocker !== null || active} title={resumeBlocker ?? undefined} onClick={() => controller.resumeCompare()} data-testid="compare-resume">
            Resume ({left} left)
          </button>
        )}
        {grid && !running && (
          <button type="button" className="secondary" onClick={() => controller.discardCompare()} data-testid="compare-discard">
            Clear table
          </button>
        )}
      </div>
      {why && !running && <p className="empty">{why}</p>}
      {grid && status && (
        <div className="progress-block" data-testid="compare-progress">
          <progress max={1} value={status.fraction} aria-label="Comparison progress" />
          <p className="muted small" role="status">
            {grid.results.length} of {gridTotal(grid)} runs done
            {failed.length > 0 ? ` (${failed.length} failed)` : ''}
            {running && grid.current ? ` · now ${armLabel(grid.current.arm)} seed ${grid.current.seed}` : ''}
            {running && status.etaSeconds !== null ? ` · about ${formatDuration(status.etaSeconds)} left` : ''}
            {!running && left > 0 ? ` · interrupted${resumeBlocker ? `: ${resumeBlocker}` : ''}` : ''}
          </p>
        </div>
      )}
      {failed.length > 0 && (
        <p className="notice small" data-testid="compare-failed">
          Failed, so left out of the table:{' '}
          {failed.map((r, i) => (
            <span key={`${r.arm}/${r.seed}`}>
              {i > 0 && ', '}
              <button type="button" className="link" title="Show this run" onClick={() => r.runId && void controller.openRun(r.runId)}>
                {armLabel(r.arm)} seed {r.seed}
              </button>
            </span>
          ))}
          .
        </p>
      )}
      {rows.length > 0 && grid && (
        <>
          <CompareTable rows={rows} metric={grid.plan.metric} onOpen={(id) => void controller.openRun(id)} />
          <div className="row">
            <button type="button" className="secondary" onClick={() => downloadBlob(new Blob([tableCsv(rows)], { type: 'text/csv' }), `${file}.csv`)} data-testid="compare-csv">
              CSV
            </button>
            <button type="button" className="secondary" onClick={() => downloadBlob(new Blob([tableMarkdown(rows, grid.plan.metric)], { type: 'text/markdown' }), `${file}.md`)} data-testid="compare-md">
              Markdown
            </button>
          </div>
        </>
      )}
    </section>
  );
}
