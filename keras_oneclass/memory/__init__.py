"""Feature-memory pieces: greedy k-centre coreset, faiss nearest-neighbour index, one-pass fitting."""

from keras_oneclass.memory.coreset import coreset_indices, greedy_k_centre, random_projection
from keras_oneclass.memory.index import NearestNeighbours
