/* Opsets after 17: vibeec's kernels follow the ONNX specs up to opset 17
 * plus the later versions onnx_opset_table.h marks as implemented. A node
 * of a newer opset is accepted when its op's version at that opset only
 * widened the types (dtypes the kernels lack are refused where they
 * appear), is implemented, or (conditional entries) leaves its new
 * attributes at the behaviour vibeec has; otherwise it is refused, naming
 * what changed. */
#include "onnx_int.h"
#include <stdlib.h>
#include <string.h>
#include "onnx_opset_table.h"

int onnx_opset_known(void)
{
	return ONNX_OPSET_KNOWN;
}

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *np, const char *name, size_t n)
{
	for (size_t i = 0; i < np->n_attribute; i++) {
		const Onnx__AttributeProto *a = np->attribute[i];
		if (a && a->name && strlen(a->name) == n && !strncmp(a->name, name, n))
			return a;
	}
	return NULL;
}

/* Conditional entry: "a=v,b=w": each attribute absent or equal to its
 * value (an int, else a string). Returns the first offending name (length
 * in *len), or NULL when all are fine. */
static const char *bad_attr(const Onnx__NodeProto *np, const char *req, size_t *len)
{
	for (const char *p = req; *p;) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end)
			return NULL;
		const Onnx__AttributeProto *a = find_attr(np, p, (size_t)(eq - p));
		if (a) {
			char want[64];
			size_t wl = (size_t)(end - eq - 1) < sizeof want - 1 ? (size_t)(end - eq - 1)
			                                                      : sizeof want - 1;
			memcpy(want, eq + 1, wl);
			want[wl] = 0;
			char *e;
			long long iv = strtoll(want, &e, 10);
			bool ok = *e ? (a->s.data && a->s.len == wl && !memcmp(a->s.data, want, wl))
			             : a->i == iv;
			if (!ok) {
				*len = (size_t)(eq - p);
				return p;
			}
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

int onnx_opset_check(Ld *L, const Onnx__NodeProto *np, int opset)
{
	if (opset <= ONNX_OPSET_BASE)
		return 0;
	const char *opname = np->op_type ? np->op_type : "";
	int best = -1;
	for (size_t i = 0; i < sizeof onnx_opset_changes / sizeof *onnx_opset_changes; i++)
		if (!strcmp(onnx_opset_changes[i].op, opname) && onnx_opset_changes[i].since <= opset &&
		    (best < 0 || onnx_opset_changes[i].since > onnx_opset_changes[best].since))
			best = (int)i;
	if (best < 0 || onnx_opset_changes[best].ok == 1)
		return 0;
	const char *nodename = onnx_name(L, np->name);
	int since = onnx_opset_changes[best].since;
	if (onnx_opset_changes[best].ok == 2) {
		size_t n;
		const char *a = bad_attr(np, onnx_opset_changes[best].what, &n);
		if (!a)
			return 0;
		return diag_set(L->d, E_MODEL, "%s: node '%s' (%s, opset %d): attribute '%.*s' of "
		                "%s-%d is supported only as %s", L->path, nodename, opname, opset,
		                (int)n, a, opname, since, onnx_opset_changes[best].what);
	}
	return diag_set(L->d, E_MODEL, "%s: node '%s' (%s, opset %d): %s-%d is not supported "
	                "(%s); vibeec implements %s as of opset %d", L->path, nodename, opname,
	                opset, opname, since, onnx_opset_changes[best].what, opname,
	                ONNX_OPSET_BASE);
}
