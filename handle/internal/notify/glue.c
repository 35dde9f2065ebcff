// glue.c: hands the Go callbacks (//export in notify.go) to notifier.c.
#include "_cgo_export.h"
#include "notifier.h"

notifier *notify_new(void *user) {
	return notifier_new(notifyGoEvent, user);
}

void notify_call_once(void *user, int event) {
	notifier_call_once(notifyGoEvent, user, event);
}

void notify_call_once_cgo(uintptr_t h, int event) {
	notifyGoEventCgo(h, event);
}
