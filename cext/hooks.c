// hooks.c: gives membridge.c the Go functions it calls while tracing.
#include "_cgo_export.h"
#include "mb_bridge.h"

void cext_set_tracing(int on) {
	mb_bridge_set_trace_hooks(cextTraceAlloc, cextTraceFree);
	mb_bridge_set_tracing(on);
}
