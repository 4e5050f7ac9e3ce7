/* Opsets after 17: vibeec's kernels follow the ONNX specs up to opset 17
 * (plus the later versions onnx_opset_table.h marks as implemented). A node
 * of a newer opset is accepted when its op's version at that opset only
 * widened the types (dtypes the kernels lack are refused where they
 * appear); otherwise it is refused, naming what changed. */
#include "onnx_int.h"
#include <string.h>
#include "onnx_opset_table.h"

int onnx_opset_known(void)
{
	return ONNX_OPSET_KNOWN;
}

int onnx_opset_check(Ld *L, const char *opname, const char *nodename, int opset)
{
	if (opset <= ONNX_OPSET_BASE)
		return 0;
	int best = -1;
	for (size_t i = 0; i < sizeof onnx_opset_changes / sizeof *onnx_opset_changes; i++)
		if (!strcmp(onnx_opset_changes[i].op, opname) && onnx_opset_changes[i].since <= opset &&
		    (best < 0 || onnx_opset_changes[i].since > onnx_opset_changes[best].since))
			best = (int)i;
	if (best < 0 || onnx_opset_changes[best].ok)
		return 0;
	return diag_set(L->d, E_MODEL, "%s: node '%s' (%s, opset %d): %s-%d is not supported "
	                "(%s); vibeec implements %s as of opset %d", L->path, nodename, opname,
	                opset, opname, onnx_opset_changes[best].since, onnx_opset_changes[best].what,
	                opname, ONNX_OPSET_BASE);
}
