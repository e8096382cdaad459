/** The per-panel error boundary: a crash becomes the panel's own message; "Try again" renders it afresh. */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { PanelBoundary, PanelCrashed } from '../../src/ui/components/PanelBoundary';

describe('PanelBoundary', () => {
  it('renders its panel while nothing is wrong', () => {
    expect(renderToStaticMarkup(createElement(PanelBoundary, { name: '2 · Data', children: createElement('p', null, 'rows') }))).toBe('<p>rows</p>');
  });

  it('turns a thrown value into state and shows the message, naming the panel and what is kept', () => {
    expect(PanelBoundary.getDerivedStateFromError(new TypeError("Cannot read properties of undefined (reading 'map')")).error?.message).toMatch(/reading 'map'/);
    expect(PanelBoundary.getDerivedStateFromError('plain string').error).toEqual(new Error('plain string'));
    const html = renderToStaticMarkup(createElement(PanelCrashed, { name: '2 · Data', error: new Error('boom'), onRetry: () => {} }));
    expect(html).toContain('<h2>2 · Data</h2>');
    expect(html).toContain('This panel hit a bug and stopped showing:</strong> boom');
    expect(html).toContain('your model, data and runs are kept');
    expect(html).toContain('Try again');
  });

  it('clears the error on Try again', () => {
    const boundary = new PanelBoundary({ name: 'Runs', children: null });
    let next: unknown = null;
    boundary.setState = (update) => void (next = update);
    boundary.state = { error: new Error('boom') };
    const element = boundary.render() as { props: { onRetry: () => void } };
    element.props.onRetry();
    expect(next).toEqual({ error: null });
  });
});
