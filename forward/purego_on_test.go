//go:build purego

package forward

// puregoBuild tells tests that the purego build tag is set.
const puregoBuild = true
