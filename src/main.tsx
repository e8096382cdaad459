import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { WorkerClient } from './worker/client';
import { App } from './ui/App';
import { ControllerContext } from './ui/context';
import { createController } from './ui/controller';
import './ui/styles.css';

// One worker and one store for the page's lifetime (outside React so StrictMode's double effects do not fork them).
const controller = createController(new WorkerClient());

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ControllerContext.Provider value={controller}>
      <App />
    </ControllerContext.Provider>
  </StrictMode>,
);
