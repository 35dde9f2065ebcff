package cuda

import (
	"testing"

	"github.com/membridge/membridge/internal/errprefix/errprefixtest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/require"
)

// Every error chain the package returns starts with its prefix and carries
// it once: inner layers (the device lookup, the driver seam, the backends)
// add context only, and the package's sentinels carry no prefix of their
// own.
func TestErrorsHaveOnePrefix(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var errs errprefixtest.Errors
	add, second := errs.Add, errs.Second

	second(GetDevice(7))
	second(Open(7))
	second(shared.Alloc("test/prefix", -1))
	second(shared.AllocPinned("test/prefix", -1))
	second(AllocSlice[float32](shared, "test/prefix", -1))
	//membridge:ignore gopointer the test provokes this misuse on purpose, to read the error it returns
	second(AllocSlice[*int](shared, "test/prefix", 1))
	//membridge:ignore gopointer the test provokes this misuse on purpose, to read the error it returns
	second(CloneHtoD(shared, "test/prefix", []*int{nil}))
	second(shared.LoadModule("not ptx"))
	second(shared.BuiltinFunction("no_such_kernel"))

	b, err := shared.Alloc("test/prefix", 16)
	require.NoError(t, err)
	second(b.View(8, 16))
	add(CopyHtoD(b, make([]byte, 3)))
	require.NoError(t, b.Free())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(b.Free())
	add(b.Err())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	second(b.DevicePtr())

	x, err := AllocSlice[float32](shared, "test/prefix", 4)
	require.NoError(t, err)
	y, err := AllocSlice[float32](shared, "test/prefix", 8)
	require.NoError(t, err)
	add(CopyDtoD(y, x))
	add(Scale(shared.DefaultStream(), y, x, 1))
	f, err := shared.BuiltinFunction("mb_scale_f32")
	require.NoError(t, err)
	add(f.Launch(shared.DefaultStream(), LaunchConfig{Grid: Dim3{X: 1}, Block: Dim3{X: 32}}, x))
	require.NoError(t, x.Free())
	require.NoError(t, y.Free())

	p, err := shared.AllocPinned("test/prefix", 8)
	require.NoError(t, err)
	require.NoError(t, p.Free())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(p.Free())

	var nilBuf *DeviceBuffer
	second(nilBuf.View(0, 0))
	add(CopyHtoD(nilBuf, []byte{}))
	var zero Context
	add(zero.Synchronize())

	c, err := Open(0)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(c.Close())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	add(c.Synchronize())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	second(c.Alloc("test/prefix", 8))
	second(c.NewStream())

	errprefixtest.Check(t, "cuda: ", errs, "native: ")
}
