// Drives the `imagefit serve` page in headless Chromium (Playwright): waits for the model description,
// picks an image with the file input, drops the same image on the drop zone, uploads a file that is
// not an image, and takes a screenshot. Prints one JSON object with what the page showed.
// Usage: node browser_check.js URL IMAGE SCREENSHOT.png   (playwright-core found through NODE_PATH)
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, imagePath, screenshotPath] = process.argv.slice(2);
if (!url || !imagePath || !screenshotPath) {
  console.error('usage: node browser_check.js URL IMAGE SCREENSHOT.png');
  process.exit(2);
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
              '--disable-background-networking', '--disable-component-update', '--disable-sync',
              '--disable-dev-shm-usage'];

// What the page shows as the prediction, once body[data-state] says it is done (or failed).
async function readPrediction(page) {
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 60000 });
  return page.evaluate(() => ({
    state: document.body.dataset.state,
    label: document.getElementById('pred-label').textContent,
    probability_text: document.getElementById('pred-prob').textContent,
    status: document.getElementById('status').textContent,
    bars: [...document.querySelectorAll('#bars .bar-row')].map(li => ({
      label: li.dataset.label,
      probability: Number(li.dataset.probability),
      width: li.querySelector('.bar-fill').getBoundingClientRect().width,
      track: li.querySelector('.bar-track').getBoundingClientRect().width,
      text: li.querySelector('.bar-value').textContent,
    })),
    preview_loaded: (() => { const img = document.getElementById('preview'); return img.complete && img.naturalWidth > 0; })(),
  }));
}

async function markWaiting(page) {
  await page.evaluate(() => { document.body.dataset.state = 'waiting'; });
}

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS, timeout: 60000 });
  const result = { console_errors: [], failed_requests: [], foreign_requests: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const origin = new URL(url).origin;
    page.on('console', m => { if (m.type() === 'error') result.console_errors.push(m.text()); });
    page.on('pageerror', e => result.console_errors.push(String(e)));
    page.on('requestfailed', r => result.failed_requests.push(r.url()));
    page.on('request', r => {
      const u = r.url();
      if (!u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')) result.foreign_requests.push(u);
    });

    await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    await page.waitForSelector('body[data-state="ready"]', { timeout: 30000 });
    result.title = await page.title();
    result.model_name = await page.textContent('#model-name');
    result.classes = await page.$$eval('#classes .chip', els => els.map(e => e.textContent));
    result.facts = await page.$$eval('#facts dt', dts => Object.fromEntries(dts.map(dt => [dt.textContent, dt.nextElementSibling.textContent])));

    // 1. The file picker.
    await page.setInputFiles('#file', imagePath);
    result.picked = await readPrediction(page);
    await page.screenshot({ path: screenshotPath, fullPage: true });

    // 2. Drag and drop of the same file onto the drop zone.
    await markWaiting(page);
    const bytes = fs.readFileSync(imagePath).toString('base64');
    const name = path.basename(imagePath);
    const dataTransfer = await page.evaluateHandle(([b64, name]) => {
      const raw = atob(b64);
      const buf = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; ++i) buf[i] = raw.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([buf], name, { type: name.toLowerCase().endsWith('.png') ? 'image/png' : 'image/jpeg' }));
      return dt;
    }, [bytes, name]);
    await page.dispatchEvent('#drop', 'dragenter', { dataTransfer });
    result.drop_highlighted = await page.$eval('#drop', d => d.classList.contains('over'));
    await page.dispatchEvent('#drop', 'drop', { dataTransfer });
    result.dropped = await readPrediction(page);

    // 3. A file that is not an image: the server's message is shown.
    await markWaiting(page);
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    result.not_an_image = await readPrediction(page);
    await page.screenshot({ path: screenshotPath.replace(/\.png$/, '-error.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})().catch(e => {
  console.error('browser_check failed: ' + (e && e.stack || e));
  process.exit(1);
});
