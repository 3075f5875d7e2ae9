// The dashboard page: frames from /dashboard/events (Server-Sent Events), drawn with uPlot
// and plain DOM. No build step: this file is served as it is.

/* global uPlot */

const WINDOW_FRAMES = 300; // five minutes of the chart, a frame a second
const TOP_ROUTES = 6;
const COLOURS = ['#2e86de', '#e67e22', '#27ae60', '#8e44ad', '#c0392b', '#16a085'];

/** @type {Array<any>} */
let frames = [];
/** @type {{ rate?: any, latency?: any, routes: string[] }} */
const charts = { routes: [] };

const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const routeKey = (route) => `${route.service} ${route.route}`;
const fixed = (value, digits = 1) => (value === null || value === undefined ? '–' : Number(value).toFixed(digits));
const ms = (seconds) => (seconds === null || seconds === undefined ? '–' : (seconds * 1000).toFixed(1));

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (className) td.className = className;
  row.appendChild(td);
}

function fill(tableId, rows, columns) {
  const body = /** @type {HTMLTableSectionElement} */ (byId(tableId).querySelector('tbody'));
  body.replaceChildren(
    ...rows.map((item) => {
      const row = document.createElement('tr');
      for (const column of columns) cell(row, column(item));
      return row;
    }),
  );
}

/** The routes drawn: the busiest over the window, kept in a stable order. */
function chartedRoutes() {
  const totals = new Map();
  for (const frame of frames) {
    for (const route of frame.routes) totals.set(routeKey(route), (totals.get(routeKey(route)) ?? 0) + route.rate);
  }
  return [...totals.entries()]
    .filter(([, total]) => total > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_ROUTES)
    .map(([key]) => key)
    .sort();
}

function seriesOf(routes, pick) {
  const times = frames.map((frame) => frame.time / 1000);
  const lines = routes.map((key) =>
    frames.map((frame) => {
      const route = frame.routes.find((each) => routeKey(each) === key);
      return route === undefined ? null : pick(route);
    }),
  );
  return [times, ...lines];
}

function makeChart(target, routes, data, label) {
  const width = Math.max(320, target.clientWidth || 520);
  return new uPlot(
    {
      width,
      height: 220,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label }],
      series: [
        {},
        ...routes.map((key, index) => ({
          label: key,
          stroke: COLOURS[index % COLOURS.length],
          width: 2,
          spanGaps: true,
        })),
      ],
    },
    data,
    target,
  );
}

function drawCharts() {
  const routes = chartedRoutes();
  const rates = seriesOf(routes, (route) => route.rate);
  const latency = seriesOf(routes, (route) => (route.p99 === null ? null : route.p99 * 1000));
  if (routes.join('\n') !== charts.routes.join('\n') || charts.rate === undefined) {
    charts.rate?.destroy();
    charts.latency?.destroy();
    charts.rate = makeChart(byId('rateChart'), routes, rates, 'req/s');
    charts.latency = makeChart(byId('latencyChart'), routes, latency, 'ms');
    charts.routes = routes;
  } else {
    charts.rate.setData(rates);
    charts.latency.setData(latency);
  }
}

function drawTables(frame) {
  byId('app').textContent = frame.app;
  byId('mode').textContent = frame.mode === 'split' ? 'split into pools' : 'monolith (cleave dev)';
  byId('requestRate').textContent = fixed(frame.requestRate);
  byId('errorRate').textContent = fixed(frame.errorRate);
  byId('rateLimitedRate').textContent = fixed(frame.rateLimitedRate);
  byId('cacheHitRatio').textContent = frame.cacheHitRatio === null ? '–' : `${Math.round(frame.cacheHitRatio * 100)} %`;
  byId('processCount').textContent = String(frame.processes.length);
  fill('routes', frame.routes, [
    (route) => route.service,
    (route) => route.route,
    (route) => fixed(route.rate),
    (route) => ms(route.p50),
    (route) => ms(route.p99),
    (route) => fixed(route.errorRate),
  ]);
  byId('noErrors').hidden = frame.errors.length > 0;
  byId('errors').hidden = frame.errors.length === 0;
  fill('errors', frame.errors.slice(-15).reverse(), [
    (error) => new Date(error.at).toLocaleTimeString(),
    (error) => error.status,
    (error) => `${error.method} ${error.path}`,
    (error) => error.service,
    (error) => error.requestId,
  ]);
  byId('poolsSection').hidden = frame.pools.length === 0;
  fill('pools', frame.pools, [
    (pool) => pool.service,
    (pool) => pool.kind,
    (pool) => `${pool.replicas.ready} / ${pool.replicas.now} → ${pool.replicas.desired}`,
    (pool) => `${pool.replicas.min}–${pool.replicas.max}`,
    (pool) => fixed(pool.inFlight, 2),
    (pool) => `${Math.round(pool.eventLoop * 100)} %`,
    (pool) => pool.queueDepth,
  ]);
  fill('processes', frame.processes, [
    (proc) => proc.replica,
    (proc) => proc.service,
    (proc) => proc.pid,
    (proc) => `${Math.round(proc.cpu * 100)} %`,
    (proc) => `${(proc.memoryBytes / 1048576).toFixed(0)} MiB`,
  ]);
  byId('decisionsSection').hidden = frame.mode !== 'split';
  byId('noDecisions').hidden = frame.decisions.length > 0;
  const list = byId('decisions');
  list.replaceChildren(
    ...frame.decisions
      .slice(-20)
      .reverse()
      .map((decision) => {
        const item = document.createElement('li');
        item.className = decision.to > decision.from ? 'up' : 'down';
        item.textContent = `${new Date(decision.at).toLocaleTimeString()} ${decision.service}: ${decision.from} → ${decision.to} (${decision.reason})`;
        return item;
      }),
  );
  byId('nodesSection').hidden = frame.nodes.length === 0;
  fill('nodes', frame.nodes, [
    (node) => (node.self ? `${node.id} (this one)` : node.id),
    (node) => node.address,
    (node) => node.pid,
    (node) => [...new Set(node.pools.map((pool) => pool.service))].join(', '),
    (node) => new Date(node.lastSeen).toLocaleTimeString(),
  ]);
  const live = byId('live');
  live.className = '';
  live.textContent = `live · ${new Date(frame.time).toLocaleTimeString()}`;
}

function show(frame) {
  frames.push(frame);
  if (frames.length > WINDOW_FRAMES) frames = frames.slice(-WINDOW_FRAMES);
  drawTables(frame);
  drawCharts();
}

const events = new EventSource('/dashboard/events');
events.addEventListener('history', (event) => {
  frames = JSON.parse(event.data).slice(-WINDOW_FRAMES);
  const last = frames.pop();
  if (last !== undefined) show(last);
});
events.onmessage = (event) => show(JSON.parse(event.data));
events.onerror = () => {
  const live = byId('live');
  live.className = 'stale';
  live.textContent = 'reconnecting…';
};
