// glue.c: hands the Go callbacks (//export in notify.go) to notifier.c.
// The Go callbacks take the user data as uintptr_t, not void*: C may hand
// back a value that is no pointer (a stale or forged handle, a small
// integer), which Go must not hold in an unsafe.Pointer.
#include "_cgo_export.h"
#include "notifier.h"

static void go_event(void *user, int event) {
	notifyGoEvent((uintptr_t)user, event);
}

static void go_lookup(void *user, int id) {
	notifyGoLookup((uintptr_t)user, id);
}

notifier *notify_new(void *user) {
	return notifier_new(go_event, user);
}

void notify_call_once(void *user, int event) {
	notifier_call_once(go_event, user, event);
}

void notify_lookup_once(uintptr_t user, int id) {
	notifier_call_once(go_lookup, (void *)user, id);
}

void notify_call_once_cgo(uintptr_t h, int event) {
	notifyGoEventCgo(h, event);
}
