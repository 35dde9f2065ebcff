/* notifier.h: a small C library that stores a callback and its user data
 * and calls it back later, the pattern Go handles exist for. Its state is
 * allocated through membridge.h (tag "notifier"). */
#ifndef MEMBRIDGE_NOTIFIER_H
#define MEMBRIDGE_NOTIFIER_H

/* A notifier_fn receives the user data given to notifier_new. */
typedef void (*notifier_fn)(void *user_data, int event);

typedef struct notifier notifier;

/* notifier_new stores fn and user_data; NULL when memory runs out. */
notifier *notifier_new(notifier_fn fn, void *user_data);

/* notifier_fire calls the stored callback count times with event. */
void notifier_fire(notifier *n, int event, int count);

/* notifier_user_data returns the stored user data. */
void *notifier_user_data(const notifier *n);

/* notifier_free frees the notifier (not the user data). NULL is ignored. */
void notifier_free(notifier *n);

/* notifier_call_once calls fn(user_data, event) without storing anything:
 * one crossing from Go to C and back, for benchmarks. */
void notifier_call_once(notifier_fn fn, void *user_data, int event);

#endif
