// Command map, history: a slider over the change log shows the grids, the legend and the
// measure as of any past moment (/api/...?at=), plays forward, and says when the map was
// last updated. At the right end the map is live again.
(function () {
  "use strict";

  const history = { first: null, last: null, timer: null };
  const STEPS = 1000;
  const PLAY_STEPS = 50; // a play moves over the span in this many one-second steps
  const el = (id) => document.getElementById(id);
  const clock = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });

  function ms() {
    return window.msMap;
  }
  function T(key) {
    return ms().T(key); // the translation table of the page's language
  }
  function momentOf(value) {
    // slider position -> ISO time (UTC); the right end is "now"
    if (Number(value) >= STEPS || history.first === null) return null;
    const span = Date.now() - history.first;
    return new Date(history.first + (span * Number(value)) / STEPS).toISOString();
  }
  function valueOf(moment) {
    const span = Date.now() - history.first;
    return Math.max(0, Math.min(STEPS, Math.round(((Date.parse(moment) - history.first) / span) * STEPS)));
  }
  function showMoment(moment) {
    el("history-at").textContent = moment ? `${T("as_of")} ${clock.format(new Date(moment))}` : T("history_now");
    el("history-live").hidden = !moment;
  }

  async function goTo(moment) {
    const state = ms().state;
    state.at = moment;
    document.body.dataset.at = moment || "";
    showMoment(moment);
    await ms().reload(false);
    document.body.dataset.atShown = moment || "now";
  }

  function stop() {
    if (history.timer) clearInterval(history.timer);
    history.timer = null;
    el("history-play").textContent = T("history_play");
  }
  function play() {
    if (history.timer) return stop();
    const slider = el("history-slider");
    if (Number(slider.value) >= STEPS) slider.value = "0";
    el("history-play").textContent = T("history_pause");
    history.timer = setInterval(async () => {
      const next = Math.min(STEPS, Number(slider.value) + STEPS / PLAY_STEPS);
      slider.value = String(next);
      if (next >= STEPS) stop();
      await goTo(momentOf(next));
    }, 1000);
  }

  function updated() {
    el("updated").textContent = `${T("updated_at")} ${clock.format(new Date())}`;
  }

  document.addEventListener("msmap:ready", async () => {
    const span = await ms().getJSON("/api/history").catch(() => ({}));
    if (!span.first) return; // nothing written yet (or not for this reader): no past to show
    history.first = Date.parse(span.first);
    history.last = Date.parse(span.last);
    const slider = el("history-slider");
    slider.dataset.first = span.first;
    el("history").hidden = false;
    slider.addEventListener("input", () => showMoment(momentOf(slider.value)));
    slider.addEventListener("change", () => {
      stop();
      goTo(momentOf(slider.value));
    });
    el("history-play").addEventListener("click", play);
    el("history-live").addEventListener("click", () => {
      stop();
      slider.value = String(STEPS);
      goTo(null);
    });
    document.addEventListener("msmap:changed", updated);
    updated();
    window.msHistory = { goTo, valueOf, momentOf };
  });
})();
