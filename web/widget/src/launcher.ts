// The widget's visible part: a launcher button in a shadow root, so the host page's
// CSS cannot reach it and ours cannot leak out. With an agent available it offers a chat;
// with nobody available it offers to leave a message (the message form arrives with chat).

export interface Launcher {
  setAvailable(available: boolean): void;
  hide(): void;
}

const STYLE = `
:host { all: initial; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; display: flex; align-items: center; gap: 8px;
  font: 600 15px/1 system-ui, sans-serif; color: #fff; background: #4338ca; border: 0; border-radius: 999px;
  padding: 12px 18px; box-shadow: 0 6px 20px rgba(0,0,0,.25); cursor: pointer; }
.launcher.offline { background: #475569; }
.launcher:focus-visible { outline: 3px solid #facc15; outline-offset: 2px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: #22c55e; }
.offline .dot { background: #cbd5e1; }
.panel { position: fixed; right: 20px; bottom: 76px; z-index: 2147483000; width: 280px; padding: 16px; border-radius: 12px;
  background: #fff; color: #0f172a; font: 14px/1.45 system-ui, sans-serif; box-shadow: 0 10px 30px rgba(0,0,0,.25); }
.panel h2 { margin: 0 0 6px; font-size: 16px; }
.panel p { margin: 0; }
[hidden] { display: none !important; }
`;

export function mountLauncher(): Launcher {
  const host = document.createElement('div');
  host.setAttribute('data-vitrine-widget', '');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>${STYLE}</style>
<div class="panel" role="dialog" aria-live="polite" hidden><h2></h2><p></p></div>
<button class="launcher" type="button" aria-expanded="false"><span class="dot" aria-hidden="true"></span><span class="label"></span></button>`;
  const button = root.querySelector('button') as HTMLButtonElement;
  const label = root.querySelector('.label') as HTMLSpanElement;
  const panel = root.querySelector('.panel') as HTMLDivElement;
  const title = panel.querySelector('h2') as HTMLHeadingElement;
  const text = panel.querySelector('p') as HTMLParagraphElement;
  let available = false;

  const render = (): void => {
    button.classList.toggle('offline', !available);
    button.setAttribute('data-state', available ? 'available' : 'away');
    label.textContent = available ? 'Chat with us' : 'Leave a message';
    title.textContent = available ? 'We are here' : 'We are away';
    text.textContent = available
      ? 'An advisor is online and can see which page you are on, to help you faster.'
      : 'Nobody is available right now. Leave us a message and we will get back to you.';
  };
  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', String(!panel.hidden));
  });
  render();
  (document.body || document.documentElement).appendChild(host);
  return {
    setAvailable(next) {
      available = next;
      render();
    },
    hide() {
      host.remove();
    },
  };
}
