/** Light/dark colours for SVG charts (SVG attributes cannot read CSS variables reliably). */
import { useSyncExternalStore } from 'react';

const query = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;

export function usePrefersDark(): boolean {
  return useSyncExternalStore(
    (onChange) => {
      query?.addEventListener('change', onChange);
      return () => query?.removeEventListener('change', onChange);
    },
    () => query?.matches ?? false,
  );
}

export interface ChartTheme {
  text: string;
  grid: string;
  primary: string;
  secondary: string;
  overlay: string;
  series: string[];
}

// Okabe-Ito based categorical colours, tuned per theme for contrast against the panel background.
const LIGHT: ChartTheme = {
  text: '#374151',
  grid: '#e5e7eb',
  primary: '#2563eb',
  secondary: '#d97706',
  overlay: '#9333ea',
  series: ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#7a5c00', '#000000'],
};
const DARK: ChartTheme = {
  text: '#d1d5db',
  grid: '#374151',
  primary: '#60a5fa',
  secondary: '#fbbf24',
  overlay: '#c084fc',
  series: ['#56b4e9', '#ff8c42', '#2ed3a0', '#f0a3d0', '#ffc94d', '#9ad5ff', '#e0c060', '#f5f5f5'],
};

export function useChartTheme(): ChartTheme {
  return usePrefersDark() ? DARK : LIGHT;
}
