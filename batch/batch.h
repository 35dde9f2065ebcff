/* batch.h: a sample C extension that filters batches of records, the way
 * data-processing libraries linked into Go services do. It allocates
 * through membridge.h, so its memory is in the membridge ledger, and it
 * returns what it keeps in the two shapes seen in practice:
 *
 *   - batch_filter_copy: a fresh block holding only the kept records;
 *   - batch_process: a pointer into a larger working block (the view) that
 *     must be released as a whole, like a C++ processBatch() that returns
 *     &vec[k] into a vector it allocated.
 *
 * Either way the caller releases the block with batch_release. Package
 * batch (Go) adopts both with that deleter. */
#ifndef MEMBRIDGE_BATCH_H
#define MEMBRIDGE_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* A batch_record is one record of a batch: an id and a value. */
typedef struct batch_record {
	uint64_t id;
	float value;
	uint32_t flags; /* BATCH_KEPT is set on records the filter kept */
} batch_record;

#define BATCH_KEPT 1u

/* batch_filter_copy returns a fresh block holding, in input order, the
 * records of in[0..n) whose value lies in [lo, hi] (NaN never does), and
 * sets *kept to their number. It returns NULL only when memory runs out
 * (then *kept is 0). Release the block with batch_release. */
batch_record *batch_filter_copy(const batch_record *in, size_t n, float lo, float hi, size_t *kept);

/* batch_process copies the batch into a working block, partitions it so
 * the records in [lo, hi] form one run after the rejected ones (both in
 * input order), and returns a pointer to that run: a view into the working
 * block, which it stores in *work. The view must not be freed; release
 * *work with batch_release when done with the view. Returns NULL (and
 * *work NULL, *kept 0) when memory runs out. */
const batch_record *batch_process(const batch_record *in, size_t n, float lo, float hi, size_t *kept,
                                  void **work);

/* batch_release releases a block from batch_filter_copy or the working
 * block of batch_process. NULL is ignored. */
void batch_release(void *block);

/* The tags the extension counts under, as reports show them. */
#define BATCH_TAG_KEPT "batch.kept"
#define BATCH_TAG_WORK "batch.work"

#endif
