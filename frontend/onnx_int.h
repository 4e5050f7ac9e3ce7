/* Internals shared by the ONNX frontend's files (onnx.c: model, graph,
 * nodes; onnx_tensor.c: TensorProto -> constants, external data). */
#ifndef VIBEE_FRONTEND_ONNX_INT_H
#define VIBEE_FRONTEND_ONNX_INT_H
#include "onnx.h"
#include "onnx.pb-c.h"

/* What g->keep owns: the unpacked message (weights point into it) and the
 * mmap'd ranges of external data files. */
typedef struct Map { void *p; size_t n; } Map;
typedef struct Keep {
	Onnx__ModelProto *model;
	Map *map; int nmap, capmap;
} Keep;

/* Name -> value id, open addressing over the model's own name strings. */
typedef struct Names { const char **key; uint32_t *val; size_t cap; } Names;

/* The loader's state. */
typedef struct Ld {
	Graph *g;
	Diag *d;
	const char *path;
	char *dir;            /* realpath of the model's folder, or NULL */
	Keep *keep;
	Names names;          /* value names -> value ids */
	Names params;         /* dim_params of the graph inputs */
	size_t nnames;        /* entries in names (capacity was sized for all) */
	uint32_t nanon;       /* anonymous dims made so far */
	uint32_t nsym;        /* symbolic input dims seen so far */
	Onnx__GraphProto *gp;
	bool legacy_ranks;    /* an opset < 7 node needs onnx_legacy_ranks */
	bool check;           /* --check: report every bad node, go on */
	FILE *report;         /* check: where problems go, one a line */
	int nproblem;         /* check: problems reported */
	struct Ld *up;        /* subgraph: the enclosing graph's loader, else NULL */
	uint32_t upnode;      /* subgraph: the node of up->g owning it */
	int depth;            /* subgraph nesting depth (0: the model's graph) */
} Ld;

/* A copy of model string s in the graph's arena, control characters
 * replaced so names are safe in one-line messages. */
char *onnx_name(Ld *L, const char *s);
/* Whether elem type dt is supported (numeric, fixed size); its name. */
bool onnx_dt_ok(int64_t dt);
const char *onnx_dt_label(int dt);
/* Make a VK_CONST value from TensorProto t, named `name` (the tensor's own
 * name when NULL); `what` names it in messages ("initializer 'w'"). */
int onnx_tensor_const(Ld *L, const Onnx__TensorProto *t, const char *name,
                      const char *what, uint32_t *vout);
/* 0 if protobuf bytes p[0..n) nest messages of type md at most
 * ONNX_MAX_DEPTH deep; 1 if deeper; -1 if not valid protobuf. */
int onnx_check_depth(const uint8_t *p, size_t n,
                     const ProtobufCMessageDescriptor *md, int depth);

/* onnx_load with check mode (L->d, L->check, L->report preset); copies
 * nproblem and legacy_ranks back into *L. */
Graph *onnx_load_ld(Ld *L, const char *path);

/* onnx_legacy.c: opsets 1-6. Before node creation, refuse old forms that
 * cannot be mapped (0 or an error in L->d). */
int onnx_legacy_pre(Ld *L, const Onnx__NodeProto *np, int op, int opset);
/* After node `id`'s attributes are read: adapt old attributes (Cast's
 * string `to`, Concat-1's default axis, ...) or refuse. */
int onnx_legacy_node(Ld *L, uint32_t id);
/* After ir_compact: rewrite opset < 7 nodes whose meaning depends on input
 * ranks (broadcast with axis, PRelu's per-channel slope); compacts again. */
int onnx_legacy_ranks(Ld *L);
/* Infer shapes node by node, calling pre(L, k) (if not NULL) before node
 * k's rule. tolerant: report each failing node (onnx_problem) and skip the
 * nodes that depend on it; else stop at the first error. */
int onnx_infer_walk(Ld *L, bool tolerant, int (*pre)(Ld *, uint32_t));
/* onnx_opset.c: refuse (E_MODEL, message in L->d) a node whose op changed
 * in an opset after 17 in a way vibeec does not implement; 0 if fine. */
int onnx_opset_check(Ld *L, const Onnx__NodeProto *np, int opset);
int onnx_opset_known(void);      /* newest opset the version table knows */
/* onnx_check.c: report the error in L->d as one problem and clear it. */
void onnx_problem(Ld *L);
#endif
