/// <reference lib="dom" />
/**
 * Buttons that answer every tap. A mouse, a pen and the keyboard activate a button through its
 * `click` event; a finger activates it on the `pointerup` of a tap that began on it, and the click
 * the browser would synthesise afterwards is cancelled (`preventDefault` on `touchend`), so the
 * action runs once. Mobile browsers do not always synthesise that click: a tap that follows the
 * end of a finger stroke on the pad within about 150 ms was often lost (issue 16).
 *
 * @module
 */

/**
 * Runs `action` when `button` is pressed, by any pointer or the keyboard.
 *
 * @param button the button (a disabled one does nothing)
 * @param action what the button does
 */
export function onPress(button: HTMLButtonElement, action: () => void): void {
  /** The finger whose tap began on the button, until it lifts or is cancelled. */
  let finger: number | null = null;
  button.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "touch" && e.isPrimary) finger = e.pointerId;
  });
  button.addEventListener("pointercancel", (e) => {
    if (e.pointerId === finger) finger = null;
  });
  button.addEventListener("pointerup", (e) => {
    if (e.pointerId !== finger) return;
    finger = null;
    if (button.disabled) return;
    // A finger that slid off the button before lifting cancels the tap, as a click would.
    const r = button.getBoundingClientRect();
    if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) {
      return;
    }
    action();
  });
  // The tap was handled on pointerup: no click after it (passive: false so this may cancel).
  button.addEventListener("touchend", (e) => {
    if (e.cancelable) e.preventDefault();
  }, { passive: false });
  button.addEventListener("click", () => {
    if (!button.disabled) action();
  });
}
