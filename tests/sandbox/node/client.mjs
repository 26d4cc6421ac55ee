// Drives a sandbox with @kubernetes/client-node and prints what it saw as one JSON object.
//
//     node client.mjs KUBECONFIG NAMESPACE
//
// tests/sandbox/test_sandbox_libraries.py runs it and asserts on the output. Every step records
// plain values (names, data, event types, error codes), never whole objects, so the assertions
// stay readable. A step that throws is recorded under "errors" and the script goes on.
import * as k8s from '@kubernetes/client-node';

const [kubeconfigPath, namespace] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfigPath);
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
const out = { errors: {} };

const configMap = (name, data, labels) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, labels },
  data,
});

function until(predicate, what, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (predicate()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

async function step(name, fn) {
  if (process.env.TRACE) console.error(`step ${name}`);
  try {
    out[name] = await fn();
  } catch (err) {
    out.errors[name] = `${err.code ?? err.statusCode ?? ''} ${err.message}`.slice(0, 500);
  }
}

await step('create', async () => {
  const made = [];
  for (let i = 0; i < 5; i++) {
    const labels = { parity: i % 2 ? 'odd' : 'even', app: 'node' };
    const cm = await core.createNamespacedConfigMap({
      namespace,
      body: configMap(`cm${i}`, { index: String(i) }, labels),
    });
    made.push({ name: cm.metadata.name, uid: Boolean(cm.metadata.uid), rv: cm.metadata.resourceVersion });
  }
  return made;
});

await step('get', async () => {
  const cm = await core.readNamespacedConfigMap({ namespace, name: 'cm3' });
  return { data: cm.data, created: cm.metadata.creationTimestamp instanceof Date };
});

await step('listSelector', async () => {
  const list = await core.listNamespacedConfigMap({ namespace, labelSelector: 'parity=even' });
  return list.items.map((cm) => cm.metadata.name);
});

await step('listPages', async () => {
  const pages = [];
  let token;
  do {
    const page = await core.listNamespacedConfigMap({ namespace, limit: 2, _continue: token });
    pages.push(page.items.map((cm) => cm.metadata.name));
    token = page.metadata._continue;
  } while (token);
  return pages;
});

await step('notFound', async () => {
  try {
    await core.readNamespacedConfigMap({ namespace, name: 'absent' });
    return 'no error';
  } catch (err) {
    if (!(err instanceof k8s.ApiException)) throw err;
    const status = JSON.parse(err.body);
    return { code: err.code, reason: status.reason, message: status.message };
  }
});

const patch = (strategy, body) =>
  core.patchNamespacedConfigMap(
    { namespace, name: 'cm0', body },
    k8s.setHeaderOptions('Content-Type', strategy),
  );

await step('mergePatch', async () => (await patch(k8s.PatchStrategy.MergePatch, { data: { merged: 'yes' } })).data);
await step('jsonPatch', async () =>
  (await patch(k8s.PatchStrategy.JsonPatch, [{ op: 'remove', path: '/data/index' }])).data,
);

await step('strategicPatch', async () => {
  const body = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            { name: 'web', image: 'nginx:1.27' },
            { name: 'side', image: 'busybox:1' },
          ],
        },
      },
    },
  };
  await apps.createNamespacedDeployment({ namespace, body });
  const patched = await apps.patchNamespacedDeployment(
    {
      namespace,
      name: 'web',
      body: { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.28' }] } } } },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
  );
  return patched.spec.template.spec.containers.map((c) => `${c.name}=${c.image}`);
});

await step('apply', async () => {
  const spec = configMap('applied', { a: '1' });
  const first = await objects.patch(spec, undefined, undefined, 'node-test', false, k8s.PatchStrategy.ServerSideApply);
  const again = await objects.patch(
    configMap('applied', { a: '2', b: '3' }),
    undefined,
    undefined,
    'node-test',
    false,
    k8s.PatchStrategy.ServerSideApply,
  );
  let conflict;
  try {
    await objects.patch(configMap('applied', { a: '9' }), undefined, undefined, 'other', false, k8s.PatchStrategy.ServerSideApply);
  } catch (err) {
    conflict = { code: err.code, reason: JSON.parse(err.body).reason };
  }
  const read = await objects.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace } });
  return {
    first: first.data,
    again: again.data,
    managers: again.metadata.managedFields.map((m) => `${m.manager}:${m.operation}`),
    conflict,
    read: read.data,
  };
});

await step('watch', async () => {
  const start = (await core.listNamespacedConfigMap({ namespace })).metadata.resourceVersion;
  const seen = [];
  const watch = new k8s.Watch(kc);
  let ended = false;
  const request = await watch.watch(
    `/api/v1/namespaces/${namespace}/configmaps`,
    { resourceVersion: start, labelSelector: 'app=watched' },
    (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
    () => {
      ended = true;
    },
  );
  try {
    await core.createNamespacedConfigMap({ namespace, body: configMap('w1', { a: '1' }, { app: 'watched' }) });
    await core.createNamespacedConfigMap({ namespace, body: configMap('ignored', { a: '1' }) });
    await core.patchNamespacedConfigMap(
      { namespace, name: 'w1', body: { data: { a: '2' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedConfigMap({ namespace, name: 'w1' });
    await until(() => seen.length >= 3, 'three watch events');
  } finally {
    request.abort(); // an open watch would keep this process alive
  }
  await until(() => ended, 'the watch to end');
  return seen;
});

await step('informer', async () => {
  const path = `/api/v1/namespaces/${namespace}/configmaps`;
  const informer = k8s.makeInformer(kc, path, () => core.listNamespacedConfigMap({ namespace, labelSelector: 'app=node' }), 'app=node');
  const seen = [];
  informer.on('add', (obj) => seen.push(`add ${obj.metadata.name}`));
  informer.on('update', (obj) => seen.push(`update ${obj.metadata.name}`));
  informer.on('delete', (obj) => seen.push(`delete ${obj.metadata.name}`));
  const errors = [];
  let stopping = false;
  // stop() aborts the open watch, which the informer reports as an AbortError: not a failure.
  informer.on('error', (err) => stopping || errors.push(String(err)));
  await informer.start();
  try {
    await until(() => seen.length >= 5, 'the initial list');
    await core.patchNamespacedConfigMap(
      { namespace, name: 'cm1', body: { data: { changed: 'yes' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedConfigMap({ namespace, name: 'cm2' });
    await core.patchNamespacedConfigMap(
      { namespace, name: 'cm3', body: { metadata: { labels: { app: 'elsewhere' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await until(() => seen.length >= 8, 'the update and the deletes');
  } finally {
    stopping = true;
    await informer.stop();
  }
  return { seen, cached: informer.list(namespace).map((cm) => cm.metadata.name).sort(), errors };
});

await step('delete', async () => {
  const status = await core.deleteNamespacedConfigMap({ namespace, name: 'cm4' });
  const left = await core.listNamespacedConfigMap({ namespace, labelSelector: 'app=node' });
  return { status: status.status, left: left.items.map((cm) => cm.metadata.name) };
});

console.log(JSON.stringify(out));
