//go:build race

package server_test

// raceDetector says the race detector is on: it adds shadow memory to every
// allocation, so heap measurements are not the ones production sees.
const raceDetector = true
