/* notifier.c: see notifier.h. */
#include <pthread.h>

#include "membridge.h"
#include "notifier.h"

struct notifier {
	notifier_fn fn;
	void *user_data;
};

static int tag;
static pthread_once_t tag_once = PTHREAD_ONCE_INIT;

static void register_tag(void) {
	tag = membridge_tag("notifier");
}

notifier *notifier_new(notifier_fn fn, void *user_data) {
	pthread_once(&tag_once, register_tag);
	notifier *n = membridge_malloc(tag, sizeof *n);
	if (n != NULL) {
		n->fn = fn;
		n->user_data = user_data;
	}
	return n;
}

void notifier_fire(notifier *n, int event, int count) {
	for (int i = 0; i < count; i++) {
		n->fn(n->user_data, event);
	}
}

void *notifier_user_data(const notifier *n) {
	return n->user_data;
}

void notifier_free(notifier *n) {
	membridge_free(n);
}

void notifier_call_once(notifier_fn fn, void *user_data, int event) {
	fn(user_data, event);
}
