// The post list: rendering, newest-first insertion with dedupe by id, loading,
// and #post-<id> permalinks (fetched via GET /api/posts/:id when not listed).
import { api, toApiError } from './api.js';
import { el, showMessage, timeEl } from './ui.js';

const list = document.getElementById('post-list');
const empty = document.getElementById('posts-empty');
const errorBox = document.getElementById('posts-error');
/** post id -> <li> */
const postNodes = new Map();

function renderPost(post) {
  const author = post.author?.username ?? 'unknown';
  return el(
    'li',
    { className: 'post', testid: 'post', id: `post-${post.id}`, 'data-post-id': post.id },
    el(
      'article',
      {},
      el(
        'header',
        { className: 'post-meta' },
        el('strong', { className: 'post-author', testid: 'post-author', text: author }),
        el(
          'a',
          { className: 'post-link', href: `#post-${encodeURIComponent(post.id)}` },
          timeEl(post.createdAt, { testid: 'post-time' }),
        ),
      ),
      el('p', { className: 'post-text', testid: 'post-text', text: String(post.text ?? '') }),
    ),
  );
}

function time(post) {
  const t = Date.parse(post.createdAt);
  return Number.isNaN(t) ? 0 : t;
}

/** Insert a post in newest-first order, unless it is already shown (dedupe by id). */
export function addPost(post, { highlight = false } = {}) {
  if (!post || post.id === undefined || postNodes.has(String(post.id))) return;
  const node = renderPost(post);
  node.dataset.createdAt = String(time(post));
  postNodes.set(String(post.id), node);
  let before = list.firstElementChild;
  while (before && Number(before.dataset.createdAt) > time(post)) before = before.nextElementSibling;
  list.insertBefore(node, before);
  empty.hidden = true;
  if (highlight) {
    node.classList.add('is-new');
    setTimeout(() => node.classList.remove('is-new'), 2000);
  }
}

export async function loadPosts() {
  showMessage(errorBox, '');
  try {
    const { posts } = await api.posts();
    // Oldest first, so ties in createdAt keep the server's order.
    for (const post of [...(posts ?? [])].reverse()) addPost(post);
    empty.hidden = postNodes.size > 0;
    await showLinkedPost();
  } catch (err) {
    showMessage(errorBox, `Could not load posts: ${toApiError(err).message}`);
    errorBox.append(' ', el('button', { type: 'button', className: 'btn btn-small', text: 'Retry' }));
    errorBox.querySelector('button').addEventListener('click', loadPosts, { once: true });
  }
}

/** Support #post-<id> links: fetch the post if it isn't in the list. */
async function showLinkedPost() {
  const match = /^#post-(.+)$/.exec(location.hash);
  if (!match) return;
  const id = decodeURIComponent(match[1]);
  if (!postNodes.has(id)) {
    try {
      addPost(await api.post(id));
    } catch (err) {
      showMessage(errorBox, `Post ${id}: ${toApiError(err).message}`);
      return;
    }
  }
  const node = postNodes.get(id);
  node?.scrollIntoView({ block: 'center' });
  node?.classList.add('is-target');
}
window.addEventListener('hashchange', () => {
  for (const node of list.querySelectorAll('.is-target')) node.classList.remove('is-target');
  showLinkedPost();
});
