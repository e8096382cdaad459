import { useId, useState } from 'react';
import { useAppState, useController } from '../context';
import { hasWeights, weightsNote } from '../state';

export function TryPanel() {
  const controller = useController();
  const prediction = useAppState((s) => s.prediction);
  const pair = useAppState((s) => s.run?.config.data.columns.textPair != null);
  const trained = useAppState((s) => hasWeights(s) && s.model.status === 'ready');
  const training = useAppState((s) => s.training);
  const note = useAppState(weightsNote);
  const [text, setText] = useState('');
  const [second, setSecond] = useState('');
  const ids = { text: useId(), pair: useId() };
  const canPredict = trained && training !== 'running' && training !== 'starting' && training !== 'pausing' && text.trim() !== '' && (!pair || second.trim() !== '');

  return (
    <section className="panel" aria-labelledby="try-title">
      <h2 id="try-title">Try it</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (canPredict) controller.predict(text, pair ? second : undefined);
        }}
      >
        <label htmlFor={ids.text}>{pair ? 'Sentence A' : 'Sentence'}</label>
        <textarea id={ids.text} rows={2} value={text} onChange={(e) => setText(e.target.value)} placeholder="Type something to classify" />
        {pair && (
          <>
            <label htmlFor={ids.pair}>Sentence B</label>
            <textarea id={ids.pair} rows={2} value={second} onChange={(e) => setSecond(e.target.value)} />
          </>
        )}
        <button type="submit" disabled={!canPredict}>
          Predict
        </button>
        {!trained && <p className="empty">{note ?? 'Train a model first (predictions need the model in the worker).'}</p>}
      </form>
      {prediction && (
        <div className="prediction" aria-live="polite" data-testid="prediction">
          {prediction.value !== undefined ? (
            <p>
              Predicted value: <strong>{prediction.value.toFixed(3)}</strong>
            </p>
          ) : (
            prediction.labels.map((label, i) => (
              <div key={label} className="label-bar">
                <span className="label-name">{label}</span>
                <span className="bar" style={{ width: `${100 * prediction.probabilities[i]}%` }} />
                <span className="num">{(100 * prediction.probabilities[i]).toFixed(1)} %</span>
              </div>
            ))
          )}
        </div>
      )}
    </section>
  );
}
