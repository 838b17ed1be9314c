/* The tinykd device app: answers protocol requests (tk_protocol.h) with the engine (engine.h) over a port
 * (platform.h). A port's main loop is:
 *     for (;;) { tk_app_init(); while ((a = tk_app_step()) == TK_APP_CONTINUE) {} ...reset or exit... }
 */
#ifndef TK_APP_H
#define TK_APP_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TK_APP_CONTINUE = 0, /* call tk_app_step again */
    TK_APP_RESET = 1,    /* the host asked for a reset: call tk_platform_reset() */
    TK_APP_EXIT = 2      /* the host said BYE: call tk_platform_exit(0) */
} tk_app_action_t;

/* Resets the parser and counters and sends the BOOT frame. Returns 0, or the engine's non-zero init status. */
int tk_app_init(void);

/* Handles every byte that is waiting (at most one request); idles when none is. */
tk_app_action_t tk_app_step(void);

#ifdef __cplusplus
}
#endif

#endif /* TK_APP_H */
