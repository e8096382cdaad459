import { useMemo } from 'react';
import { methodEntry } from '../../methods/catalog';
import { runReport } from '../compare';
import { useAppState, useController } from '../context';
import { formatCount, formatDuration, formatSci } from '../format';
import { runConfigOf, valuesOf, type Setup } from '../setup';
import { averageTrainable, etaSeconds, executionText, isActive, latestEvaluation, phaseText, resumeOffer, startBlocker } from '../state';

export function TrainingPanel({ setup }: { setup: Setup }) {
  const controller = useController();
  const training = useAppState((s) => s.training);
  const model = useAppState((s) => (s.model.status === 'ready' ? s.model.info : null));
  const data = useAppState((s) => (s.data.status === 'ready' ? s.data.preview : null));
  const labelNames = useAppState((s) => s.labelNames);
  const backend = useAppState((s) => s.backend);
  const run = useAppState((s) => s.run);
  const throughput = useAppState((s) => s.throughput);
  const phase = useAppState(phaseText);
  const eta = useAppState(etaSeconds);
  const evaluation = latestEvaluation(run);
  const canEvaluate = useAppState((s) => s.run !== null && s.inWorker === s.run.id && s.inWorkerTrained);
  const evaluating = useAppState((s) => s.progress.evaluate !== undefined && s.progress.evaluate.done < s.progress.evaluate.total);
  const resumable = useAppState((s) => s.resumable);
  const modelState = useAppState((s) => s.model);
  const dataState = useAppState((s) => s.data);
  const offer = useMemo(() => resumeOffer({ resumable, training, model: modelState, data: dataState }), [resumable, training, modelState, dataState]);
  const checkpoint = useAppState((s) => (s.checkpoint && s.checkpoint.runId === s.run?.id ? s.checkpoint : null));

  const plan = run?.plan;
  const n = run?.metrics.step.length ?? 0;
  const lastStep = n > 0 ? run!.metrics.step[n - 1] : -1;
  const lastLoss = n > 0 ? run!.metrics.loss[n - 1] : null;
  const epoch = n > 0 ? run!.metrics.epoch[n - 1] : 0;
  const active = isActive(training);
  // The run config this setup makes, or why it cannot make one (a cross-option check the form does not see).
  const built = useMemo(() => {
    if (!model || !data) return null;
    try {
      return { config: runConfigOf(setup, model, data, labelNames), problem: null };
    } catch (error) {
      return { config: null, problem: (error as Error).message };
    }
  }, [setup, model, data, labelNames]);
  const blocker = useAppState(startBlocker) ?? (built?.problem ? `Fix the settings first: ${built.problem}` : null);
  const config = built?.config ?? null;
  const canStart = !active && blocker === null && config !== null;
  const avg = averageTrainable(run);
  const modelConfig = useAppState((s) => s.model.info?.config ?? null);
  const report = run && modelConfig ? runReport(run, modelConfig) : null;
  const batchSize = run?.config.recipe.batchSize ?? (valuesOf(setup, 'recipe').batchSize as number);

  function start() {
    if (canStart) controller.start(config);
  }

  return (
    <section className="panel training" aria-labelledby="train-title">
      <h2 id="train-title">4 · Train</h2>
      <div className="row">
        <button type="button" className="primary" disabled={!canStart} onClick={start} data-testid="train">
          {training === 'finished' ? 'Train again' : 'Train'}
        </button>
        {training === 'paused' ? (
          <button type="button" onClick={() => controller.resume()} data-testid="resume">
            Resume
          </button>
        ) : (
          <button type="button" disabled={training !== 'running'} onClick={() => controller.pause()} data-testid="pause">
            {training === 'pausing' ? 'Pausing…' : 'Pause'}
          </button>
        )}
        <button type="button" className="danger" disabled={training !== 'running' && training !== 'pausing' && training !== 'paused'} onClick={() => controller.stop()} data-testid="stop">
          {training === 'stopping' ? 'Stopping…' : 'Stop'}
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!run?.plan || !canEvaluate || evaluating || training === 'starting' || training === 'stopping' || (training === 'finished' && model === null)}
          title="A validation pass now (while training: after the current step)"
          onClick={() => controller.evaluate()}
          data-testid="evaluate"
        >
          Evaluate now
        </button>
        <span className={`badge backend-${backend?.name ?? 'none'}`} data-testid="backend" title={backend?.adapter}>
          {backend ? backend.name.toUpperCase() : 'backend…'}
        </span>
      </div>
      {backend?.fallbackReason && (
        <p className="notice" role="status">
          WebGPU is not available ({backend.fallbackReason}); training runs on the {backend.name.toUpperCase()} backend and is much slower.
        </p>
      )}
      {offer && (
        <div className="resume-offer" role="status" data-testid="resume-offer">
          <p>
            <strong>{offer.offer.label}</strong> was interrupted at step {offer.offer.step} of {offer.offer.totalSteps}; its checkpoint is kept in this browser.
            {offer.blocker && <span data-testid="resume-blocked"> {offer.blocker}</span>}
          </p>
          <div className="row">
            <button type="button" className="primary" disabled={offer.blocker !== null || training === 'starting'} onClick={() => void controller.resumeInterrupted()} data-testid="resume-run">
              Resume run from step {offer.offer.step}
            </button>
            <button type="button" className="secondary" disabled={training === 'starting'} onClick={() => void controller.discardInterrupted()} data-testid="discard-resume">
              Discard
            </button>
          </div>
        </div>
      )}
      {blocker && (
        <p className="empty" data-testid="train-blocker">
          {blocker}
        </p>
      )}
      {phase && (
        <p className="muted" role="status" data-testid="phase">
          {phase}
        </p>
      )}
      {run?.imported && (
        <p className="status-line" role="status" data-testid="imported">
          Imported adapter {run.imported}: {methodEntry(run.config.method.id).label}, {run.config.data.task === 'regression' ? 'regression' : `classes ${run.config.data.labelNames.join(' / ')}`}. Try it or
          export it; Train starts a new run.
        </p>
      )}
      {plan && !run?.imported && (
        <div className="progress-block" data-testid="progress">
          <progress max={plan.totalSteps} value={lastStep + 1} aria-label="Training progress" />
          <dl className="facts inline">
            <dt>Step</dt>
            <dd data-testid="step">
              {lastStep + 1} / {plan.totalSteps}
            </dd>
            <dt>Epoch</dt>
            <dd>
              {Math.min(plan.epochs, Math.floor(epoch) + 1)} / {plan.epochs}
            </dd>
            <dt>Examples/s</dt>
            <dd>{throughput.stepsPerSecond > 0 ? (throughput.stepsPerSecond * batchSize).toFixed(1) : '–'}</dd>
            <dt>ETA</dt>
            <dd data-testid="eta">{(training === 'running' || training === 'pausing') && eta !== null ? formatDuration(eta) : '–'}</dd>
            <dt>Loss</dt>
            <dd>{lastLoss === null ? '–' : formatSci(lastLoss, 3)}</dd>
            <dt>Trainable</dt>
            <dd>
              {n > 0 ? formatCount(run!.metrics.trainableParams[n - 1]) : formatCount(plan.trainableParamsAtStart)}
              {avg !== null && <span className="muted"> (avg {formatCount(avg)})</span>}
            </dd>
            {run?.execution && (
              <>
                <dt>Steps</dt>
                <dd data-testid="execution">{executionText(run.execution)}</dd>
              </>
            )}
          </dl>
          {evaluation && (
            <p className="validation" data-testid="validation">
              Validation at step {evaluation.step + 1}:{' '}
              {Object.entries(evaluation.metrics)
                .map(([name, value]) => `${name} ${value.toFixed(name === 'loss' || name === 'mse' ? 4 : 3)}`)
                .join(' · ')}
            </p>
          )}
          {report?.last && report.best && (
            <p className="validation" data-testid="epoch-report">
              {report.metric} at the last epoch ({report.last.epoch}) {report.last.value.toFixed(4)} · best epoch ({report.best.epoch}) {report.best.value.toFixed(4)}
              {report.avgTrainable !== null && ` · avg trainable without the classifier ${formatCount(report.avgTrainable)}`}
            </p>
          )}
          {active && checkpoint && (
            <p className="muted" data-testid="checkpoint">
              {checkpoint.refused ?? (checkpoint.step !== null ? `Resumable after a reload from step ${checkpoint.step} (checkpoint kept in this browser).` : null)}
            </p>
          )}
          {run?.finished && (
            <p className="status-line" role="status" data-testid="finished">
              {run.finished.reason === 'completed' ? 'Finished' : run.finished.reason === 'stopped' ? 'Stopped' : 'Failed'} after {run.finished.step + 1} steps in{' '}
              {formatDuration(run.finished.seconds)}.
            </p>
          )}
        </div>
      )}
    </section>
  );
}
