/* ONNX frontend: ModelProto (via protobuf-c) -> graph IR. Every size, index
 * and name read from the model is checked; bad input gives one clear
 * message in the Diag and a NULL graph, never a crash. */
#define _GNU_SOURCE
#include "onnx_int.h"
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void keep_free(void *p)
{
	Keep *k = p;
	if (!k)
		return;
	for (int i = 0; i < k->nmap; i++)
		munmap(k->map[i].p, k->map[i].n);
	free(k->map);
	if (k->model)
		onnx__model_proto__free_unpacked(k->model, NULL);
	free(k);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	h ^= h >> 29;                 /* mix high bits into the low ones */
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static int names_init(Names *m, size_t n)
{
	m->cap = 16;
	while (m->cap < 2 * n + 16)
		m->cap <<= 1;
	m->key = calloc(m->cap, sizeof *m->key);
	m->val = calloc(m->cap, sizeof *m->val);
	return m->key && m->val ? 0 : -1;
}

/* Slot of `s`: its entry, or the empty slot where it would go. */
static size_t names_slot(const Names *m, const char *s)
{
	size_t i = hash_str(s) & (m->cap - 1);
	while (m->key[i] && strcmp(m->key[i], s) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static uint32_t names_get(const Names *m, const char *s)
{
	size_t i = names_slot(m, s);
	return m->key[i] ? m->val[i] : IR_NONE;
}

/* Double the table (keys are the model's strings, not copied). */
static int names_grow(Names *m)
{
	Names n = { .cap = m->cap * 2 };
	n.key = calloc(n.cap, sizeof *n.key);
	n.val = calloc(n.cap, sizeof *n.val);
	if (!n.key || !n.val) {
		free(n.key);
		free(n.val);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->key[i]) {
			size_t j = names_slot(&n, m->key[i]);
			n.key[j] = m->key[i];
			n.val[j] = m->val[i];
		}
	free(m->key);
	free(m->val);
	*m = n;
	return 0;
}

/* A copy of the model's string `s` (n bytes) in the arena, with control
 * characters replaced so that names are safe in one-line messages. */
static char *name_copy(Ld *L, const char *s, size_t n)
{
	char *c = arena_strndup(L->g->arena, s ? s : "", s ? n : 0);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

char *onnx_name(Ld *L, const char *s)
{
	return name_copy(L, s, s ? strlen(s) : 0);
}

/* Register `name` as defined by value v; an SSA model defines it once. */
static int define(Ld *L, const char *name, uint32_t v, const char *what)
{
	if (!name || !*name)
		return 0;
	size_t i = names_slot(&L->names, name);
	if (L->names.key[i])
		return diag_set(L->d, E_MODEL, "%s: %s '%s' is defined twice",
		                L->path, what, onnx_name(L, name));
	if (2 * (L->nnames + 1) >= L->names.cap) {   /* grow (subgraph captures) */
		if (names_grow(&L->names) != 0)
			return diag_set(L->d, E_IO, "%s: out of memory", L->path);
		i = names_slot(&L->names, name);
	}
	L->names.key[i] = name;
	L->names.val[i] = v;
	L->nnames++;
	return 0;
}
/* ---- graph inputs ----------------------------------------------------- */

/* The input's tensor shape, or NULL. */
static const Onnx__TensorShapeProto *input_shape(const Onnx__ValueInfoProto *vi)
{
	const Onnx__TypeProto *tp = vi ? vi->type : NULL;
	if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
	    !tp->tensor_type)
		return NULL;
	return tp->tensor_type->shape;
}

/* Collect every dim_param of the graph inputs (up to rank 8 each) into
 * L->params, so that made-up dim names can avoid them. */
static int collect_params(Ld *L)
{
	size_t n = 0;
	for (size_t i = 0; i < L->gp->n_input; i++) {
		const Onnx__TensorShapeProto *sp = input_shape(L->gp->input[i]);
		n += sp && sp->n_dim <= IR_MAXRANK ? sp->n_dim : 0;
	}
	if (names_init(&L->params, n) != 0)
		return diag_set(L->d, E_IO, "%s: out of memory", L->path);
	for (size_t i = 0; i < L->gp->n_input; i++) {
		const Onnx__TensorShapeProto *sp = input_shape(L->gp->input[i]);
		for (size_t j = 0; sp && sp->n_dim <= IR_MAXRANK && j < sp->n_dim;
		     j++) {
			const Onnx__TensorShapeProto__Dimension *dm = sp->dim[j];
			if (!dm || dm->value_case !=
			    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ||
			    !dm->dim_param)
				continue;
			size_t k = names_slot(&L->params, dm->dim_param);
			L->params.key[k] = dm->dim_param;
			L->params.val[k] = 0;
		}
	}
	return 0;
}

/* A name "unk<N>" for a dim that has neither value nor param, skipping any
 * such name the model itself uses as a dim_param. */
static const char *anon_dim(Ld *L)
{
	char buf[32];
	do
		snprintf(buf, sizeof buf, "unk%u", L->nanon++);
	while (names_get(&L->params, buf) != IR_NONE);
	return arena_strdup(L->g->arena, buf);
}

static int graph_input(Ld *L, const Onnx__ValueInfoProto *vi)
{
	const char *nm = vi->name ? vi->name : "";
	const Onnx__TypeProto *tp = vi->type;
	if (!*nm)
		return diag_set(L->d, E_MODEL, "%s: a graph input has no name",
		                L->path);
	if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
	    !tp->tensor_type)
		return diag_set(L->d, E_MODEL,
		                "%s: input '%s' is not a tensor (sequence, map, "
		                "optional and sparse inputs are unsupported)",
		                L->path, onnx_name(L, nm));
	const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
	int dt = tt->has_elem_type ? tt->elem_type : DT_UNDEF;
	if (!onnx_dt_ok(dt))
		return diag_set(L->d, E_MODEL,
		                "%s: input '%s' has unsupported element type %d (%s)",
		                L->path, onnx_name(L, nm), dt, onnx_dt_label(dt));
	const Onnx__TensorShapeProto *sp = tt->shape;
	if (!sp)
		return diag_set(L->d, E_MODEL,
		                "%s: input '%s' has no shape (its rank must be known)",
		                L->path, onnx_name(L, nm));
	if (sp->n_dim > IR_MAXRANK)
		return diag_set(L->d, E_MODEL, "%s: input '%s' has rank %zu (at "
		                "most %d)", L->path, onnx_name(L, nm), sp->n_dim,
		                IR_MAXRANK);
	Shape s = { .rank = (int)sp->n_dim };
	for (size_t i = 0; i < sp->n_dim; i++) {
		const Onnx__TensorShapeProto__Dimension *dm = sp->dim[i];
		int vc = dm ? (int)dm->value_case : 0;
		if (vc == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
			if (dm->dim_value < 0 || dm->dim_value > ONNX_MAX_DIM)
				return diag_set(L->d, E_MODEL, "%s: input '%s' has dim %zu "
				                "= %lld (must be 0..2^40)", L->path,
				                onnx_name(L, nm), i, (long long)dm->dim_value);
			s.d[i] = dm->dim_value;
		} else if (++L->nsym > ONNX_MAX_SYMDIMS) {
			return diag_set(L->d, E_MODEL, "%s: more than %d symbolic dims "
			                "in the graph inputs", L->path, ONNX_MAX_SYMDIMS);
		} else if (vc == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
		           dm->dim_param && *dm->dim_param) {
			s.d[i] = ir_dim_sym(L->g, onnx_name(L, dm->dim_param));
		} else {
			s.d[i] = ir_dim_sym(L->g, anon_dim(L));
		}
	}
	uint32_t v = ir_input(L->g, onnx_name(L, nm), dt, &s);
	return define(L, nm, v, "input");
}

/* ---- attributes and nodes --------------------------------------------- */

static const char *ak_label(int k)
{
	static const char *const lab[] = {
		"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS",
		"INTS", "STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR",
		"SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS" };
	return k >= 0 && k < (int)(sizeof lab / sizeof *lab) ? lab[k] : "?";
}

/* The attribute's kind; models before IR version 2 leave `type` unset and
 * say it by which field is present. */
static int attr_kind(const Onnx__AttributeProto *a)
{
	if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
		return (int)a->type;
	if (a->has_f) return AK_FLOAT;
	if (a->has_i) return AK_INT;
	if (a->has_s) return AK_STRING;
	if (a->t) return AK_TENSOR;
	if (a->g) return AK_GRAPH;
	if (a->n_floats) return AK_FLOATS;
	if (a->n_ints) return AK_INTS;
	if (a->n_strings) return AK_STRINGS;
	return AK_UNDEF;
}

/* "node 'n' (Op, opset N)" messages for nodes that have no IR node yet. */
static int node_msg(Ld *L, const Onnx__NodeProto *np, int opset,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int node_msg(Ld *L, const Onnx__NodeProto *np, int opset,
                    const char *fmt, ...)
{
	const char *dom = np->domain && *np->domain ? np->domain : NULL;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_set(L->d, E_MODEL, "%s: node '%s' (%s%s%s, opset %d): %s",
	                L->path, onnx_name(L, np->name), dom ? onnx_name(L, dom) : "",
	                dom ? "." : "", onnx_name(L, np->op_type), opset, msg);
}

static int build_sub(Ld *P, uint32_t owner, Onnx__GraphProto *gp, Graph **out);

static int node_attr(Ld *L, uint32_t id, const Onnx__AttributeProto *a)
{
	Node *n = &L->g->node[id];
	const char *an = a->name ? a->name : "";
	int k = attr_kind(a);
	if (a->ref_attr_name && *a->ref_attr_name)
		return ir_node_error(L->d, L->g, n, E_MODEL, "attribute '%s' refers "
		                     "to a function attribute (unsupported)",
		                     onnx_name(L, an));
	if (!*an)
		return ir_node_error(L->d, L->g, n, E_MODEL,
		                     "an attribute has no name");
	if (ir_attr(n, an))
		return ir_node_error(L->d, L->g, n, E_MODEL,
		                     "attribute '%s' is given twice", onnx_name(L, an));
	switch (k) {
	case AK_FLOAT: case AK_INT: case AK_STRING: case AK_TENSOR:
	case AK_FLOATS: case AK_INTS: case AK_STRINGS:
		break;
	case AK_GRAPH:
		if (a->g)
			break;
		return ir_node_error(L->d, L->g, n, E_MODEL,
		                     "attribute '%s' has no graph", onnx_name(L, an));
	default:
		return ir_node_error(L->d, L->g, n, E_MODEL,
		                     "attribute '%s' of kind %s is unsupported",
		                     onnx_name(L, an), ak_label(k));
	}
	size_t cnt = k == AK_FLOATS ? a->n_floats : k == AK_INTS ? a->n_ints :
	             k == AK_STRINGS ? a->n_strings : 0;
	if (cnt > INT_MAX / 16)
		return ir_node_error(L->d, L->g, n, E_MODEL,
		                     "attribute '%s' is too long", onnx_name(L, an));
	uint32_t tv = IR_NONE;
	if (k == AK_TENSOR) {
		char what[300];
		if (!a->t)
			return ir_node_error(L->d, L->g, n, E_MODEL,
			                     "attribute '%s' has no tensor",
			                     onnx_name(L, an));
		snprintf(what, sizeof what, "attribute '%s' of node '%s'",
		         onnx_name(L, an), n->name);
		if (onnx_tensor_const(L, a->t, NULL, what, &tv) != 0)
			return L->d->code;
		n = &L->g->node[id];      /* ir_const may grow the tables */
	}
	Graph *sub = NULL;
	if (k == AK_GRAPH && build_sub(L, id, a->g, &sub) != 0)
		return L->d->code;
	Arena *ar = L->g->arena;
	Attr *at = ir_attr_add(L->g, id, onnx_name(L, an), k);
	at->n = (int)cnt;
	switch (k) {
	case AK_FLOAT: at->f = a->f; break;
	case AK_INT: at->i = a->i; break;
	case AK_STRING:
		at->s = arena_strndup(ar, a->s.data ? (const char *)a->s.data : "",
		                      a->s.data ? a->s.len : 0);
		break;
	case AK_TENSOR: at->t = tv; break;
	case AK_GRAPH: at->g = sub; break;
	case AK_FLOATS:
		at->floats = arena_alloc(ar, cnt * sizeof(float) + 1);
		if (cnt)
			memcpy(at->floats, a->floats, cnt * sizeof(float));
		break;
	case AK_INTS:
		at->ints = arena_alloc(ar, cnt * sizeof(int64_t) + 1);
		if (cnt)
			memcpy(at->ints, a->ints, cnt * sizeof(int64_t));
		break;
	case AK_STRINGS:
		at->strs = arena_alloc(ar, (cnt + 1) * sizeof(char *));
		for (size_t i = 0; i < cnt; i++) {
			const ProtobufCBinaryData *b = &a->strings[i];
			at->strs[i] = arena_strndup(ar, b->data ? (const char *)b->data
			                            : "", b->data ? b->len : 0);
		}
		break;
	}
	return 0;
}

/* A Constant node becomes a VK_CONST value named after its output. */
static int constant_node(Ld *L, const Onnx__NodeProto *np)
{
	const char *out = np->n_output == 1 ? np->output[0] : NULL;
	if (np->n_input != 0 || !out || !*out || np->n_attribute != 1 ||
	    !np->attribute[0] || !np->attribute[0]->name)
		return node_msg(L, np, L->g->opset, "a Constant node needs no "
		                "inputs, one named output and one attribute");
	const Onnx__AttributeProto *a = np->attribute[0];
	const char *an = a->name;
	int k = attr_kind(a);
	char what[300];
	snprintf(what, sizeof what, "constant '%s'", onnx_name(L, out));
	uint32_t v;
	Shape s = { 0 };
	if (!strcmp(an, "value") && k == AK_TENSOR && a->t) {
		if (onnx_tensor_const(L, a->t, out, what, &v) != 0)
			return L->d->code;
	} else if (!strcmp(an, "value_float") && k == AK_FLOAT) {
		float f = a->f;
		v = ir_const_copy(L->g, onnx_name(L, out), DT_F32, &s, &f);
	} else if (!strcmp(an, "value_int") && k == AK_INT) {
		v = ir_const_copy(L->g, onnx_name(L, out), DT_I64, &s, &a->i);
	} else if (!strcmp(an, "value_floats") && k == AK_FLOATS) {
		s.rank = 1, s.d[0] = (Dim)a->n_floats;
		v = ir_const_copy(L->g, onnx_name(L, out), DT_F32, &s,
		                  a->n_floats ? (const void *)a->floats : &s);
	} else if (!strcmp(an, "value_ints") && k == AK_INTS) {
		s.rank = 1, s.d[0] = (Dim)a->n_ints;
		v = ir_const_copy(L->g, onnx_name(L, out), DT_I64, &s,
		                  a->n_ints ? (const void *)a->ints : &s);
	} else {
		return node_msg(L, np, L->g->opset,
		                "Constant attribute '%s' is unsupported",
		                onnx_name(L, an));
	}
	return define(L, out, v, "value");
}

/* "2", "1..3" or "at least 1" into buf (48 bytes). */
static const char *arity(char *buf, int lo, int hi)
{
	if (hi < 0)
		snprintf(buf, 48, "at least %d", lo);
	else if (lo == hi)
		snprintf(buf, 48, "%d", lo);
	else
		snprintf(buf, 48, "%d..%d", lo, hi);
	return buf;
}

static bool has_graph_attr(const Node *n)
{
	for (int a = 0; a < n->nattr; a++)
		if (n->attr[a].kind == AK_GRAPH)
			return true;
	return false;
}

/* Create the IR node for np (inputs resolved later). *id: its node id, or
 * IR_NONE for a Constant. */
static int make_node(Ld *L, const Onnx__NodeProto *np, uint32_t *id)
{
	const char *dom = np->domain ? np->domain : "";
	bool dflt = !*dom || !strcmp(dom, "ai.onnx");
	int opset = dflt ? L->g->opset : 0;
	const char *ot = np->op_type ? np->op_type : "";
	*id = IR_NONE;
	if (!dflt) {
		for (size_t i = 0; i < L->keep->model->n_opset_import; i++) {
			const Onnx__OperatorSetIdProto *o =
				L->keep->model->opset_import[i];
			if (o && o->domain && !strcmp(o->domain, dom))
				opset = (int)(o->version > INT_MAX ? INT_MAX :
				              o->version < 0 ? 0 : o->version);
		}
		return node_msg(L, np, opset, "unsupported op (domain '%s')",
		                onnx_name(L, dom));
	}
	if (opset == 0)
		return node_msg(L, np, opset, "the model imports no opset of the "
		                "default ONNX domain");
	if (!strcmp(ot, "Constant"))
		return constant_node(L, np);
	/* Lower-case op names are vibeec's own ops, not ONNX ones. */
	int op = *ot >= 'A' && *ot <= 'Z' ? op_lookup(ot) : -1;
	if (op < 0)
		return node_msg(L, np, opset, "unsupported op");
	if (onnx_opset_check(L, np, opset) != 0 ||
	    onnx_legacy_pre(L, np, op, opset) != 0)
		return L->d->code;
	if (np->n_attribute > ONNX_MAX_ATTRS)
		return node_msg(L, np, opset, "%zu attributes (at most %d)",
		                np->n_attribute, ONNX_MAX_ATTRS);
	const OpInfo *oi = &op_info[op];
	char buf[48];
	if (np->n_input < (size_t)oi->min_in ||
	    (oi->max_in >= 0 && np->n_input > (size_t)oi->max_in) ||
	    np->n_input > 0xffff) {
		return node_msg(L, np, opset, "%zu inputs (expects %s)",
		                np->n_input, arity(buf, oi->min_in, oi->max_in));
	}
	if (np->n_output < (size_t)oi->min_out ||
	    (oi->max_out >= 0 && np->n_output > (size_t)oi->max_out) ||
	    np->n_output > 0xffff) {
		return node_msg(L, np, opset, "%zu outputs (expects %s)",
		                np->n_output, arity(buf, oi->min_out, oi->max_out));
	}
	uint32_t *ins = malloc((np->n_input + 1) * sizeof *ins);
	if (!ins)
		return diag_set(L->d, E_IO, "%s: out of memory", L->path);
	for (size_t i = 0; i < np->n_input; i++)
		ins[i] = IR_NONE;
	*id = ir_node(L->g, op, onnx_name(L, np->name), (int)np->n_input, ins,
	              (int)np->n_output);
	free(ins);
	L->g->node[*id].opset = opset;
	for (size_t i = 0; i < np->n_attribute; i++) {
		if (!np->attribute[i])
			continue;
		if (node_attr(L, *id, np->attribute[i]) != 0)
			return L->d->code;
	}
	if (has_graph_attr(&L->g->node[*id])) {
		/* captured outer values follow the ONNX inputs (see lookup) */
		if (ir_attr(&L->g->node[*id], "_nformal"))
			return ir_node_error(L->d, L->g, &L->g->node[*id], E_MODEL,
			                     "attribute name '_nformal' is reserved");
		ir_attr_add(L->g, *id, "_nformal", AK_INT)->i = (int64_t)np->n_input;
	}
	if (onnx_legacy_node(L, *id) != 0)
		return L->d->code;
	for (size_t i = 0; i < np->n_output; i++) {
		const char *on = np->output[i] ? np->output[i] : "";
		uint32_t v = L->g->node[*id].out[i];
		L->g->val[v].name = *on ? onnx_name(L, on) : NULL;
		if (define(L, on, v, "value") != 0)
			return L->d->code;
	}
	return 0;
}

/* ---- subgraphs ---------------------------------------------------------- */

/* The value `name` denotes in L's graph: its own, or (in a subgraph) one of
 * an enclosing graph's, captured: the subgraph gets a new input for it
 * (after its ONNX inputs) and the owning node a matching extra input (after
 * its ONNX inputs, in the order the subgraphs capture them). IR_NONE if
 * undefined (or on error, with L->d set). */
static uint32_t lookup(Ld *L, const char *name)
{
	uint32_t v = names_get(&L->names, name);
	if (v != IR_NONE || !L->up)
		return v;
	uint32_t pv = lookup(L->up, name);
	if (pv == IR_NONE)
		return IR_NONE;
	Graph *pg = L->up->g;
	Node *n = &pg->node[L->upnode];
	if (n->nin >= 0xffff) {
		ir_node_error(L->d, pg, n, E_MODEL, "too many captured values");
		return IR_NONE;
	}
	uint32_t *in = arena_alloc(pg->arena, (n->nin + 1) * sizeof *in);
	if (n->nin)
		memcpy(in, n->in, n->nin * sizeof *in);
	in[n->nin] = pv;
	n->in = in;
	n->nin++;
	Shape s = { .rank = -1 };
	v = ir_input(L->g, onnx_name(L, name), DT_UNDEF, &s);
	if (define(L, name, v, "captured value") != 0)
		return IR_NONE;
	return v;
}

/* A subgraph's input: its type comes from the owning node (shape
 * inference of If/Loop/Scan sets it), whatever the model declares. */
static int sub_input(Ld *L, const Onnx__ValueInfoProto *vi)
{
	const char *nm = vi->name ? vi->name : "";
	if (!*nm)
		return diag_set(L->d, E_MODEL, "%s: a subgraph input has no name",
		                L->path);
	Shape s = { .rank = -1 };
	uint32_t v = ir_input(L->g, onnx_name(L, nm), DT_UNDEF, &s);
	return define(L, nm, v, "input");
}

static int build_graph(Ld *L);

/* Build the subgraph gp of node `owner` of P's graph into *out. */
static int build_sub(Ld *P, uint32_t owner, Onnx__GraphProto *gp, Graph **out)
{
	Ld S = { .d = P->d, .path = P->path, .dir = P->dir, .keep = P->keep,
	         .up = P, .upnode = owner, .depth = P->depth + 1, .gp = gp };
	if (S.depth > ONNX_MAX_DEPTH)
		return ir_node_error(P->d, P->g, &P->g->node[owner], E_MODEL,
		                     "subgraphs nested too deeply");
	S.g = ir_graph_new(P->path);
	if (!S.g)
		return diag_set(P->d, E_IO, "%s: out of memory", P->path);
	S.g->opset = P->g->opset;
	int r = build_graph(&S);
	if (r == 0 && S.legacy_ranks)
		r = ir_node_error(P->d, P->g, &P->g->node[owner], E_MODEL,
		                  "a subgraph uses opset < 7 broadcasting (unsupported)");
	free(S.names.key);
	free(S.names.val);
	free(S.params.key);
	free(S.params.val);
	if (r != 0) {
		ir_graph_free(S.g);
		return P->d->code ? P->d->code : r;
	}
	*out = S.g;
	return 0;
}

/* Point each node input at the value its name defines. */
static int resolve_inputs(Ld *L, const uint32_t *ids)
{
	for (size_t k = 0; k < L->gp->n_node; k++) {
		const Onnx__NodeProto *np = L->gp->node[k];
		if (ids[k] == IR_NONE)
			continue;
		for (size_t i = 0; i < np->n_input; i++) {
			const char *in = np->input[i] ? np->input[i] : "";
			uint32_t v = *in ? lookup(L, in) : IR_NONE;
			if (*in && v == IR_NONE && !L->d->code)
				return ir_node_error(L->d, L->g, &L->g->node[ids[k]],
				                     E_MODEL, "input '%s' is not defined",
				                     onnx_name(L, in));
			if (v == IR_NONE && *in)
				return L->d->code;
			L->g->node[ids[k]].in[i] = v;
		}
	}
	return 0;
}

/* ---- the model -------------------------------------------------------- */

static int unpack_model(Ld *L, const void *p, size_t n);

/* Read and unpack the file into L->keep->model. */
static int read_model(Ld *L)
{
	/* O_NONBLOCK: a FIFO named as the model must not block the open */
	int fd = open(L->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return diag_set(L->d, E_IO, "%s: cannot open: %s", L->path,
		                strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return diag_set(L->d, E_IO, "%s: not a regular file", L->path);
	}
	if ((uint64_t)st.st_size > ONNX_MAX_FILE) {
		close(fd);
		return diag_set(L->d, E_MODEL, "%s: file is larger than 4 GiB",
		                L->path);
	}
	size_t n = (size_t)st.st_size;
	void *p = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (n && p == MAP_FAILED)
		return diag_set(L->d, E_IO, "%s: cannot map: %s", L->path,
		                strerror(errno));
	int r = unpack_model(L, p, n);
	if (n)
		munmap(p, n);
	return r;
}

/* Unpack the protobuf bytes p[0..n) into L->keep->model. */
static int unpack_model(Ld *L, const void *p, size_t n)
{
	int r = n ? onnx_check_depth(p, n, &onnx__model_proto__descriptor, 0) : 0;
	if (r == 0)
		L->keep->model = onnx__model_proto__unpack(NULL, n, p);
	if (r > 0)
		return diag_set(L->d, E_MODEL, "%s: not a valid ONNX model "
		                "(messages nested deeper than %d)", L->path,
		                ONNX_MAX_DEPTH);
	if (!L->keep->model)
		return diag_set(L->d, E_MODEL, "%s: not a valid ONNX model "
		                "(protobuf parse failed)", L->path);
	return 0;
}

/* The default-domain opset (1..onnx_opset_known(); onnx_legacy.c maps 1-6,
 * onnx_opset.c checks each node of an opset after 17). */
static int model_opset(Ld *L)
{
	const Onnx__ModelProto *m = L->keep->model;
	int64_t v = -1;
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *o = m->opset_import[i];
		if (o && (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")))
			v = o->has_version ? o->version : 0;
	}
	if (v < 0) {           /* fine while no node is of the default domain */
		L->g->opset = 0;
		return 0;
	}
	if (v < 1 || v > onnx_opset_known())
		return diag_set(L->d, E_MODEL, "%s: unsupported opset %lld "
		                "(supported 1-%d)", L->path, (long long)v, onnx_opset_known());
	L->g->opset = (int)v;
	return 0;
}

static int build(Ld *L)
{
	Onnx__GraphProto *gp = L->keep->model->graph;
	if (!gp)
		return diag_set(L->d, E_MODEL, "%s: not a valid ONNX model (no "
		                "graph)", L->path);
	L->gp = gp;
	if (model_opset(L) != 0)
		return L->d->code;
	int r = build_graph(L);
	if (r != 0 || L->nproblem)
		return r;
	return onnx_legacy_ranks(L);
}

/* The graph L->gp (the model's or a subgraph) into L->g. */
static int build_graph(Ld *L)
{
	Onnx__GraphProto *gp = L->gp;
	if (gp->n_node > ONNX_MAX_NODES)
		return diag_set(L->d, E_MODEL, "%s: %zu nodes (at most %d)",
		                L->path, gp->n_node, ONNX_MAX_NODES);
	if (gp->n_sparse_initializer)
		return diag_set(L->d, E_MODEL, "%s: sparse initializers are "
		                "unsupported", L->path);
	L->g->name = onnx_name(L, gp->name);
	size_t total = gp->n_input + gp->n_initializer;
	for (size_t k = 0; k < gp->n_node; k++) {
		if (!gp->node[k])
			return diag_set(L->d, E_MODEL, "%s: empty node", L->path);
		total += gp->node[k]->n_output;
		if (L->up)                       /* room for captured names */
			total += gp->node[k]->n_input;
	}
	if (names_init(&L->names, total) != 0)
		return diag_set(L->d, E_IO, "%s: out of memory", L->path);
	if (collect_params(L) != 0)
		return L->d->code;
	for (size_t i = 0; i < gp->n_initializer; i++) {
		const Onnx__TensorProto *t = gp->initializer[i];
		char what[300];
		uint32_t v;
		if (!t || !t->name || !*t->name)
			return diag_set(L->d, E_MODEL, "%s: an initializer has no name",
			                L->path);
		snprintf(what, sizeof what, "initializer '%s'", onnx_name(L, t->name));
		if (onnx_tensor_const(L, t, NULL, what, &v) != 0 ||
		    define(L, t->name, v, "initializer") != 0)
			return L->d->code;
	}
	for (size_t i = 0; i < gp->n_input; i++) {
		const Onnx__ValueInfoProto *vi = gp->input[i];
		if (!vi)
			continue;
		if (vi->name && names_get(&L->names, vi->name) != IR_NONE)
			continue;          /* an initializer: a constant here */
		if ((L->up ? sub_input(L, vi) : graph_input(L, vi)) != 0)
			return L->d->code;
	}
	uint32_t *ids = malloc((gp->n_node + 1) * sizeof *ids);
	if (!ids)
		return diag_set(L->d, E_IO, "%s: out of memory", L->path);
	for (size_t k = 0; k < gp->n_node; k++)
		if (make_node(L, gp->node[k], &ids[k]) != 0) {
			if (L->check) {          /* report it, look at the rest */
				onnx_problem(L);
				continue;
			}
			free(ids);
			return L->d->code;
		}
	if (L->nproblem) {                   /* check: the graph is incomplete */
		free(ids);
		return 0;
	}
	int r = resolve_inputs(L, ids);
	free(ids);
	if (r != 0)
		return r;
	if (gp->n_output == 0)
		return diag_set(L->d, E_MODEL, "%s: the graph has no outputs",
		                L->path);
	for (size_t i = 0; i < gp->n_output; i++) {
		const Onnx__ValueInfoProto *vi = gp->output[i];
		const char *on = vi && vi->name ? vi->name : "";
		uint32_t v = *on ? lookup(L, on) : IR_NONE;
		if (v == IR_NONE)
			return L->d->code ? L->d->code :
			       diag_set(L->d, E_MODEL, "%s: %sgraph output '%s' is not "
			                "defined", L->path, L->up ? "sub" : "",
			                onnx_name(L, on));
		ir_graph_output(L->g, v);
	}
	if (ir_compact(L->g, L->d) != 0)
		return L->d->code;
	return 0;
}

/* Shared by onnx_load and onnx_load_mem: mem == NULL reads `path`. */
static Graph *load(const char *path, const void *mem, size_t n, Diag *d,
                   Ld *opt)
{
	Ld L = { .d = d, .path = path };
	if (opt)                              /* check mode */
		L.check = opt->check, L.report = opt->report;
	L.g = ir_graph_new(path);
	L.keep = calloc(1, sizeof *L.keep);
	if (!L.g || !L.keep) {
		free(L.keep);
		if (L.g)
			ir_graph_free(L.g);
		diag_set(d, E_IO, "%s: out of memory", path);
		return NULL;
	}
	L.g->keep = L.keep;
	L.g->keep_free = keep_free;
	/* The model's folder, for external data (none for a model in memory:
	 * its external data is refused). */
	char *tmp = mem ? NULL : strdup(path);
	char *slash = tmp ? strrchr(tmp, '/') : NULL;
	if (slash)
		*(slash == tmp ? slash + 1 : slash) = 0;
	L.dir = tmp ? realpath(slash ? tmp : ".", NULL) : NULL;
	free(tmp);
	int r;
	if (!mem)
		r = read_model(&L);
	else if ((uint64_t)n > ONNX_MAX_FILE)
		r = diag_set(d, E_MODEL, "%s: model is larger than 4 GiB", path);
	else
		r = unpack_model(&L, mem, n);
	if (r == 0)
		r = build(&L);
	free(L.dir);
	free(L.names.key);
	free(L.names.val);
	free(L.params.key);
	free(L.params.val);
	if (opt)
		opt->nproblem = L.nproblem, opt->legacy_ranks = L.legacy_ranks;
	if (r != 0) {
		ir_graph_free(L.g);
		return NULL;
	}
	return L.g;
}

Graph *onnx_load(const char *path, Diag *d)
{
	return load(path, NULL, 0, d, NULL);
}

Graph *onnx_load_ld(Ld *L, const char *path)
{
	return load(path, NULL, 0, L->d, L);
}

Graph *onnx_load_mem(const void *buf, size_t n, const char *name, Diag *d)
{
	return load(name ? name : "<memory>", buf ? buf : "", n, d, NULL);
}
