package cuda

import (
	"fmt"
)

// Backend names the backend this binary was built with: "cuda" (build tag
// cuda) or "host" (the default, device memory emulated on the host).
const Backend = backendName

// A Device describes one GPU (or, in the host backend, the emulated
// device). Its fields are read once, when it is first looked up.
type Device struct {
	Ordinal int    // the driver's device ordinal
	Name    string // e.g. "NVIDIA H100 80GB HBM3"
	// TotalMemory is the device memory in bytes.
	TotalMemory int64
	// Major and Minor are the compute capability (9.0 on H100).
	Major, Minor int
	// MemoryPools says whether the device supports stream-ordered
	// allocation (cuMemAllocAsync); where it does not, Stream.Alloc falls
	// back to plain allocation.
	MemoryPools bool
}

// DeviceCount returns the number of devices. With no driver or no device
// it returns 0 and an error wrapping ErrNoDevice.
func DeviceCount() (int, error) {
	n, err := drvDeviceCount()
	if err != nil {
		return 0, fmt.Errorf("cuda: count devices: %w", err)
	}
	return n, nil
}

// GetDevice describes device ordinal.
func GetDevice(ordinal int) (Device, error) {
	d, err := device(ordinal)
	if err != nil {
		return Device{}, fmt.Errorf("cuda: %w", err)
	}
	return d, nil
}

// device is GetDevice without the package prefix, for Open's errors.
func device(ordinal int) (Device, error) {
	n, err := drvDeviceCount()
	if err != nil {
		return Device{}, fmt.Errorf("count devices: %w", err)
	}
	if ordinal < 0 || ordinal >= n {
		return Device{}, fmt.Errorf("device %d of %d: %w", ordinal, n, ErrNoDevice)
	}
	d, err := drvDeviceInfo(ordinal)
	if err != nil {
		return Device{}, fmt.Errorf("describe device %d: %w", ordinal, err)
	}
	return d, nil
}

// Devices describes every device.
func Devices() ([]Device, error) {
	n, err := DeviceCount()
	if err != nil {
		return nil, err
	}
	out := make([]Device, n)
	for i := range out {
		if out[i], err = GetDevice(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d Device) String() string {
	return fmt.Sprintf("device %d (%s, %d MiB, compute %d.%d)", d.Ordinal, d.Name, d.TotalMemory>>20, d.Major, d.Minor)
}
