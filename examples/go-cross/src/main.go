// Command go-cross says which platform it was built for: the example
// cross-compiles it for each of the image's platforms on the build
// platform, and the test runs the one for the machine it is on.
package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("hello from %s/%s\n", runtime.GOOS, runtime.GOARCH)
}
