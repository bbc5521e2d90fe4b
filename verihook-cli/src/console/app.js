// verihook console: the live list and the inbox pages' buttons.
//
// Everything a webhook carries (path, headers, body) is attacker-controlled: it is written with
// textContent only, never parsed as HTML. Actions are POSTs carrying this run's token in a
// header, which a page of another origin can neither read nor send.
'use strict';

(function () {
  const token = document.querySelector('meta[name="console-token"]').content;
  const forwarding = document.querySelector('meta[name="console-forward"]').content === 'yes';
  const result = document.getElementById('result');

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(message, ok) {
    result.textContent = message;
    result.className = ok ? 'ok' : 'error';
  }

  async function act(url, body) {
    let answer;
    try {
      const response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-Console-Token': token, 'Content-Type': 'application/json' },
        body: JSON.stringify(body || {}),
      });
      answer = await response.json();
    } catch (error) {
      answer = { ok: false, message: 'the console did not answer: ' + error };
    }
    say(answer.message, answer.ok);
    return answer;
  }

  function verdictOf(report) {
    if (!report.ok) return 'rejected';
    return report.handshake ? 'handshake' : 'authentic';
  }

  // ---- The live list -------------------------------------------------------------------

  function live() {
    const body = document.querySelector('#captures tbody');
    const senderFilter = document.getElementById('filter-sender');
    const verdictFilter = document.getElementById('filter-verdict');
    const shown = document.getElementById('shown');
    const empty = document.getElementById('empty');
    const seen = new Set();
    const senders = new Set();

    function visible(row) {
      const sender = senderFilter.value;
      const verdict = verdictFilter.value;
      return (!sender || row.dataset.sender === sender) && (!verdict || row.dataset.verdict === verdict);
    }

    function filter() {
      let count = 0;
      for (const row of body.querySelectorAll('tr.capture')) {
        const show = visible(row);
        row.hidden = !show;
        row.nextElementSibling.hidden = !show || !row.classList.contains('open');
        if (show) count += 1;
      }
      shown.textContent = count + ' of ' + seen.size + ' shown';
      empty.hidden = seen.size > 0;
    }

    function pre(className, text) {
      return el('pre', className, text);
    }

    function bodyBlock(capture) {
      const box = el('div', 'body');
      const label = 'Body, ' + capture.bytes + ' bytes' + (capture.cut ? ' (first 64 KiB shown)' : '');
      const raw = pre('body-raw', capture.body);
      if (capture.body.length > 2048) {
        const folded = el('details', 'folded');
        folded.appendChild(el('summary', null, label + ': folded, click to open'));
        folded.appendChild(raw);
        box.appendChild(folded);
      } else {
        box.appendChild(el('h4', null, label));
        box.appendChild(raw);
      }
      if (capture.pretty) {
        const pretty = el('details', 'pretty');
        pretty.appendChild(el('summary', null, 'Pretty'));
        pretty.appendChild(pre('body-pretty', capture.pretty));
        box.appendChild(pretty);
      }
      return box;
    }

    function actions(capture) {
      const box = el('div', 'actions');
      const resend = el('button', 'resend', 'Resend to the app');
      resend.type = 'button';
      resend.disabled = !forwarding;
      resend.title = forwarding ? 'Send it again, as it was, to the forward target' : 'Start the console with --forward URL';
      resend.addEventListener('click', () => act('/_console/captures/' + capture.seq + '/resend'));
      box.appendChild(resend);

      const how = el('select', 'alteration');
      for (const name of ['trailing-newline', 'crlf', 'pretty', 'compact']) {
        const option = el('option', null, name);
        option.value = name;
        how.appendChild(option);
      }
      const alter = el('button', 'alter', 'Resend altered');
      alter.type = 'button';
      alter.addEventListener('click', () =>
        act('/_console/captures/' + capture.seq + '/alter/' + encodeURIComponent(how.value)));
      box.appendChild(how);
      box.appendChild(alter);

      const redact = el('input', 'redact');
      redact.placeholder = 'JSON pointers to redact: /data/object/email';
      redact.size = 40;
      const save = el('button', 'fixture', 'Save as fixture');
      save.type = 'button';
      save.addEventListener('click', () =>
        act('/_console/captures/' + capture.seq + '/fixture', { redact: redact.value }));
      box.appendChild(redact);
      box.appendChild(save);
      return box;
    }

    function add(capture) {
      if (seen.has(capture.seq)) return;
      seen.add(capture.seq);
      const report = capture.report;
      const verdict = verdictOf(report);
      const sender = report.sender || 'unknown';

      const row = el('tr', 'capture ' + verdict);
      row.dataset.seq = capture.seq;
      row.dataset.sender = sender;
      row.dataset.verdict = verdict;
      row.appendChild(el('td', 'seq', '#' + capture.seq));
      row.appendChild(el('td', 'time', report.time));
      const request = el('td', 'path', report.method + ' ' + report.path);
      if (capture.origin) request.appendChild(el('div', 'origin', capture.origin));
      row.appendChild(request);
      row.appendChild(el('td', 'sender', sender));
      const event = el('td', 'event');
      event.appendChild(el('div', 'event-id', report.id || '-'));
      event.appendChild(el('div', 'event-type', report.type || '-'));
      row.appendChild(event);
      const judged = el('td', 'verdict');
      judged.appendChild(el('span', 'badge ' + verdict, report.ok ? verdict : 'rejected: ' + (report.error || 'unknown')));
      if (report.message) judged.appendChild(el('div', 'message', report.message));
      for (const warning of report.warnings || []) judged.appendChild(el('div', 'warning', warning));
      if (report.diagnosis && report.diagnosis.length) {
        const list = el('ul', 'diagnosis');
        for (const finding of report.diagnosis) {
          const item = el('li', 'finding');
          item.dataset.cause = finding.cause;
          item.appendChild(el('code', 'cause', finding.cause));
          item.appendChild(document.createTextNode(': '));
          item.appendChild(el('span', 'advice', finding.advice));
          list.appendChild(item);
        }
        judged.appendChild(list);
      }
      row.appendChild(judged);
      const answered = el('td', 'answer', report.status);
      if (report.forwarded) {
        const app = report.forwarded;
        answered.appendChild(el('div', 'forwarded',
          app.status ? 'app answered ' + app.status : 'app unreachable: ' + (app.error || '')));
      }
      row.appendChild(answered);

      const detail = el('tr', 'detail');
      detail.hidden = true;
      const cell = el('td');
      cell.colSpan = 7;
      cell.appendChild(el('h4', null, 'Headers (signatures and credentials redacted)'));
      const headers = el('table', 'headers');
      for (const [name, value] of report.headers) {
        const line = el('tr');
        line.appendChild(el('th', 'header-name', name));
        line.appendChild(el('td', 'header-value', value));
        headers.appendChild(line);
      }
      cell.appendChild(headers);
      cell.appendChild(bodyBlock(capture));
      cell.appendChild(actions(capture));
      detail.appendChild(cell);

      row.addEventListener('click', () => {
        row.classList.toggle('open');
        detail.hidden = !row.classList.contains('open');
      });

      // Newest first: before the first row with a smaller number.
      let before = null;
      for (const other of body.querySelectorAll('tr.capture')) {
        if (Number(other.dataset.seq) < capture.seq) {
          before = other;
          break;
        }
      }
      body.insertBefore(row, before);
      body.insertBefore(detail, before);

      if (!senders.has(sender)) {
        senders.add(sender);
        const option = el('option', null, sender);
        option.value = sender;
        senderFilter.appendChild(option);
      }
      filter();
    }

    senderFilter.addEventListener('change', filter);
    verdictFilter.addEventListener('change', filter);
    const source = new EventSource('/_console/feed');
    source.addEventListener('message', (message) => add(JSON.parse(message.data)));
    fetch('/_console/captures', { credentials: 'same-origin' })
      .then((response) => response.json())
      .then((list) => list.forEach(add))
      .then(filter);
  }

  // ---- The inbox pages' buttons ----------------------------------------------------------

  function buttons() {
    for (const button of document.querySelectorAll('button.action')) {
      button.addEventListener('click', async () => {
        const body = {};
        if (button.dataset.key !== undefined) body.key = button.dataset.key;
        if (button.dataset.issue !== undefined) body.issue = button.dataset.issue;
        if (button.dataset.form) {
          for (const field of document.getElementById(button.dataset.form).querySelectorAll('input, select')) {
            body[field.name] = field.value;
          }
        }
        button.disabled = true;
        const answer = await act(button.dataset.action, body);
        button.disabled = answer.ok;
      });
    }
  }

  if (document.body.dataset.page === 'live') live();
  buttons();
})();
