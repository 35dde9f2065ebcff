/* batch.c: the sample processBatch extension (see batch.h). */
#include <pthread.h>
#include <string.h>

#include "batch.h"
#include "membridge.h"

static int tag_kept, tag_work;
static pthread_once_t tags_once = PTHREAD_ONCE_INIT;

static void register_tags(void) {
	tag_kept = membridge_tag(BATCH_TAG_KEPT);
	tag_work = membridge_tag(BATCH_TAG_WORK);
}

static inline int in_range(float v, float lo, float hi) {
	return v >= lo && v <= hi; /* false for NaN */
}

batch_record *batch_filter_copy(const batch_record *in, size_t n, float lo, float hi, size_t *kept) {
	pthread_once(&tags_once, register_tags);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		k += in_range(in[i].value, lo, hi);
	}
	*kept = 0;
	batch_record *out = membridge_malloc(tag_kept, k * sizeof *out);
	if (out == NULL) {
		return NULL;
	}
	size_t j = 0;
	for (size_t i = 0; i < n && j < k; i++) {
		if (in_range(in[i].value, lo, hi)) {
			out[j] = in[i];
			out[j].flags |= BATCH_KEPT;
			j++;
		}
	}
	*kept = k;
	return out;
}

/* The working block of batch_process: a header, then every record of the
 * batch, rejected ones first. */
typedef struct work {
	size_t n, kept;
	batch_record recs[];
} work;

const batch_record *batch_process(const batch_record *in, size_t n, float lo, float hi, size_t *kept,
                                  void **out_work) {
	pthread_once(&tags_once, register_tags);
	*kept = 0;
	*out_work = NULL;
	if (n > (SIZE_MAX - sizeof(work)) / sizeof(batch_record)) {
		return NULL;
	}
	work *w = membridge_malloc(tag_work, sizeof(work) + n * sizeof(batch_record));
	if (w == NULL) {
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		k += in_range(in[i].value, lo, hi);
	}
	size_t r = 0, j = n - k;
	for (size_t i = 0; i < n; i++) {
		if (in_range(in[i].value, lo, hi)) {
			w->recs[j] = in[i];
			w->recs[j].flags |= BATCH_KEPT;
			j++;
		} else {
			w->recs[r] = in[i];
			w->recs[r].flags &= ~BATCH_KEPT;
			r++;
		}
	}
	w->n = n;
	w->kept = k;
	*kept = k;
	*out_work = w;
	return &w->recs[n - k];
}

void batch_release(void *block) {
	membridge_free(block);
}
