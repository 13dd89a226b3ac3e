// The HIT page: one item at a time; each answer is sent to the vote endpoint with the
// assignment's token and stored before the next item shows. Click or keyboard; time on each
// item is measured from the moment its pictures are shown.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("hit-data").textContent);
  const steps = data.steps;
  const ab = data.kind === "ab";
  const preview = data.mode === "preview";
  const status = document.getElementById("status");
  const buttons = Array.from(document.querySelectorAll("button.answer"));
  const keys = ab
    ? { "1": "left", ArrowLeft: "left", "2": "right", ArrowRight: "right" }
    : { a: "accept", A: "accept", "1": "accept", r: "reject", R: "reject", "2": "reject" };
  let index = 0;
  let shownAt = performance.now();
  let busy = false;

  function setImage(id, url) {
    const img = document.getElementById(id);
    if (img) { img.src = url || ""; img.hidden = !url; }
  }

  function preload(step) {
    if (!step) return;
    const urls = ab
      ? [step.crop, step.left.camera, step.left.side, step.right.camera, step.right.side]
      : [step.crop, step.camera, step.side];
    urls.filter(Boolean).forEach(function (url) { const img = new Image(); img.src = url; });
  }

  function show() {
    while (index < steps.length && steps[index].voted && !preview) index += 1;
    if (index >= steps.length) { finish(); return; }
    const step = steps[index];
    document.getElementById("step-number").textContent = String(step.number);
    setImage("view-crop", step.crop);
    if (ab) {
      setImage("view-left-camera", step.left.camera);
      setImage("view-left-side", step.left.side);
      setImage("view-right-camera", step.right.camera);
      setImage("view-right-side", step.right.side);
    } else {
      setImage("view-camera", step.camera);
      setImage("view-side", step.side);
    }
    shownAt = performance.now();
    preload(steps[index + 1]);
  }

  function finish() {
    document.getElementById("item").hidden = true;
    document.getElementById("answers").hidden = true;
    const done = document.getElementById("done");
    if (done) done.hidden = false;
    const answered = document.getElementById("answered");
    if (answered) answered.value = String(steps.length);
    status.textContent = "";
    const next = document.getElementById("submit-button") || document.getElementById("next-button");
    if (next) next.focus();
  }

  function setBusy(value) {
    busy = value;
    buttons.forEach(function (b) { b.disabled = value || preview; });
  }

  function answer(value) {
    if (busy || preview || index >= steps.length) return;
    const step = steps[index];
    const seconds = (performance.now() - shownAt) / 1000;
    setBusy(true);
    status.textContent = "Saving…";
    status.className = "status";
    fetch(data.voteUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "omit",
      body: JSON.stringify({ token: data.token, item: step.item, answer: value, seconds: seconds }),
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) throw new Error(body.detail || ("the server answered " + response.status));
          step.voted = value;
          status.textContent = "";
          index += 1;
          setBusy(false);
          show();
        });
      })
      .catch(function (error) {
        status.textContent = "Not saved: " + error.message + ". Try again.";
        status.className = "status error";
        setBusy(false);
      });
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () { answer(button.dataset.answer); });
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const value = keys[event.key];
    if (value) { event.preventDefault(); answer(value); }
  });
  if (preview) { setBusy(true); }
  show();
})();
