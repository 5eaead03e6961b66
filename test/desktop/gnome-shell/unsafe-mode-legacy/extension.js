// Test only, GNOME Shell 43/44 format: these shells have no --unsafe-mode switch, and without
// unsafe mode Eval answers (false, '') and Screenshot is refused.
function init() {
    return {
        enable() { global.context.unsafe_mode = true; },
        disable() { global.context.unsafe_mode = false; },
    };
}
