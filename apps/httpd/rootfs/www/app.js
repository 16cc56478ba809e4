document.addEventListener("DOMContentLoaded", () => {
  const p = document.createElement("p");
  p.textContent = "JavaScript loaded at " + new Date().toISOString();
  document.body.appendChild(p);
});
